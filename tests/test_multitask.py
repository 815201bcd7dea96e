"""One agent for all tasks (Figs. 6-7): padded actions, round-robin collection, per-task metrics."""
import json
import os

import numpy as np

from conftest import fake_run_gin
from planet import config as config_lib
from planet import envs
from planet import replay as replay_lib
from planet import rollout
from planet import rundir
from planet import training
from planet import wrappers
from planet.report import analysis

FAKE = ["train.task = 'multitask'", "train.multitask_tasks = ('fake', 'fake2')", 'train.seed_episodes = 1',
        'train.collect_interval = 2']


class Recorder(envs.FakeEnv):

  def __init__(self):
    super().__init__(action_size=1)
    self.received = []

  def step(self, action):
    self.received.append(np.array(action))
    return super().step(action)


def test_padded_actions_pad_and_unpad():
  inner = Recorder()
  env = wrappers.PaddedActions(inner, 3)
  assert env.action_size == 3 and env.used_action_size == 1
  env.reset()
  env.step(np.array([0.25, -0.9, 0.7], np.float32))
  np.testing.assert_array_equal(inner.received[-1], [0.25])
  episode = rollout.run_episode(env, training.agent_lib.RandomAgent(3, np.random.RandomState(0)),
                                 np.array([0, 1]), explore=True)
  assert episode['action'].shape[1] == 3  # Stored in the agent's padded space.
  np.testing.assert_array_equal(np.stack(inner.received[1:]), episode['action'][1:, :1])


def test_multitask_round_robin_and_per_task_metrics(tmp_path):
  config_lib.parse([], fake_run_gin(FAKE + ['train.total_episodes = 3']))
  records = training.train(str(tmp_path), progress=False)
  assert [(r['task'], r['episodes']) for r in records] == [
      ('fake', 1), ('fake2', 1), ('fake', 2), ('fake2', 2), ('fake', 3), ('fake2', 3)]
  # C = 2 updates per collected episode: C x 2 tasks before each round's first episode; none in the seed round.
  assert [r['grad_steps'] for r in records] == [0, 0, 4, 4, 8, 8]
  assert 'loss' in records[2] and 'loss' not in records[3]
  assert all('test_return' in r for r in records if r['episodes'] in (2, 3))
  episodes = [replay_lib.load_episode(p) for p in replay_lib.list_episodes(tmp_path / 'train_episodes')]
  assert [int(e['task'][0]) for e in episodes] == [0, 1, 0, 1, 0, 1]
  assert {e['action'].shape[1] for e in episodes} == {2}  # Padded to the largest action space.
  assert os.path.exists(tmp_path / 'videos' / 'fake2_openloop_000002.gif')
  # plot.py sees one run per task.
  results = tmp_path / 'results' / 'multitask' / 'planet' / 'seed0'
  os.makedirs(results)
  with open(results / 'metrics.jsonl', 'w') as f:
    f.writelines(json.dumps(r) + '\n' for r in records)
  runs = analysis.find_runs(str(tmp_path / 'results'))
  assert sorted((r.task, r.variant) for r in runs) == [('fake', 'multitask'), ('fake2', 'multitask')]
  assert sorted(analysis.test_points(runs[0].records)) == [2, 3]


def test_multitask_resume_collects_lagging_tasks_first(tmp_path):
  config_lib.parse([], fake_run_gin(FAKE + ['train.total_episodes = 2']))
  training.train(str(tmp_path), progress=False)
  # Simulate a crash after the first task's episode of a round: drop fake2's last episode.
  last = replay_lib.list_episodes(tmp_path / 'train_episodes')[-1]
  os.remove(last)
  config_lib.parse([], fake_run_gin(FAKE + ['train.total_episodes = 3']))
  records = training.train(str(tmp_path), progress=False)
  lines = rundir.read_jsonl(str(tmp_path / 'metrics.jsonl'))
  resumed = [(r['task'], r['episodes'], 'loss' in r) for r in lines[4:]]
  assert resumed == [('fake2', 2, False), ('fake', 3, True), ('fake2', 3, False)]
  # The redone episode's line replaces the first one in what readers see.
  assert [(r['task'], r['episodes']) for r in records] == [
      ('fake', 1), ('fake2', 1), ('fake', 2), ('fake2', 2), ('fake', 3), ('fake2', 3)]
  assert records[3] == lines[4]
