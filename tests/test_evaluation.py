"""Evaluation, open-loop video prediction (Fig. 10) and state diagnostics (Fig. 11) on a tiny fake-env run."""
import json
import os
import subprocess
import sys

import gin
import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT
from conftest import fake_run_gin
from planet import agent as agent_lib
from planet import config as config_lib
from planet import training
from planet import world_model
from planet.report import evaluation

FAKE = ['train.collect_interval = 2', 'train.test_every = 10', 'train.video_every = 0', 'make_env.max_env_steps = 40',
        'train.total_episodes = 3']


@pytest.fixture(scope='module')
def run_dir(tmp_path_factory):
  logdir = tmp_path_factory.mktemp('run')
  config_lib.parse([], fake_run_gin(FAKE))
  training.train(str(logdir), progress=False)
  return logdir


def test_evaluate_writes_scores(run_dir):
  run = evaluation.LoadedRun(str(run_dir))
  assert run.task == 'fake' and run.checkpoint.endswith('ckpt-3')
  result = evaluation.evaluate(run, episodes=2)
  saved = json.load(open(run_dir / 'eval.json'))
  assert saved == result and len(saved['returns']) == 2
  assert saved['mean'] == pytest.approx(np.mean(saved['returns']))


def test_another_planner_plays_the_same_starts_into_its_own_record(run_dir):
  default = evaluation.evaluate(evaluation.LoadedRun(str(run_dir)), episodes=2)
  run = evaluation.LoadedRun(str(run_dir), gin_params=['cem_plan.candidates = 40', "cem_plan.std_estimator='paper'"])
  assert gin.query_parameter('cem_plan.candidates') == 40 and gin.query_parameter('train.task') == 'fake'
  result = evaluation.evaluate(run, episodes=2)
  path = run_dir / 'analysis' / "eval+cem_plan.candidates=40+cem_plan.std_estimator=paper.json"
  assert json.load(open(path)) == result and result['bindings'] == run.bindings
  assert result['starts'] == default['starts'] and len(set(result['starts'])) == 2
  assert json.load(open(run_dir / 'eval.json')) == default  # The run's own evaluation stays as it was.
  noisy = evaluation.evaluate(run, episodes=2, explore=True)
  assert noisy['exploration_noise'] == 0.3 and noisy['starts'] == default['starts']
  assert os.path.exists(run_dir / 'analysis' / "eval+cem_plan.candidates=40+cem_plan.std_estimator=paper+explore.json")
  with pytest.raises(config_lib.ConfigError, match='bad gin configuration'):
    evaluation.LoadedRun(str(run_dir), gin_params=['cem_plan.candidatez = 40'])
  with pytest.raises(FileNotFoundError, match=r'no checkpoint .*ckpt-1 .*keeps ckpt-2, ckpt-3\)'):
    evaluation.LoadedRun(str(run_dir), checkpoint=str(run_dir / 'checkpoints' / 'ckpt-1'))


def test_video_prediction_shapes(run_dir):
  run = evaluation.LoadedRun(str(run_dir), make_env=False)
  episode = run.episodes('test_episodes')[-1]
  rows = evaluation.video_prediction(run.model, episode, context=5, horizon=10)
  assert rows.shape == (3, 15, 64, 64, 3) and rows.dtype == np.uint8
  # The context frames are reconstructions and the truth row is the 5-bit episode itself.
  np.testing.assert_array_equal(rows[0], (episode['image'][:15] // 8) * 8)
  assert evaluation.strip_image(rows, every=5, scale=2).shape == (3 * 64 * 2, 3 * 64 * 2, 3)


def test_state_probes_and_open_loop_diagnostics(run_dir):
  run = evaluation.LoadedRun(str(run_dir), make_env=False)
  train = run.episodes('train_episodes')
  predictor, names = evaluation.fit_probes(run.model, train, steps=50)
  assert names == ['qpos', 'qvel', 'reward'] or names == ['qpos[0]', 'qvel[0]', 'reward']
  prediction, truth = evaluation.open_loop_states(run.model, predictor, train[-1], context=5, horizon=10)
  assert prediction.shape == truth.shape == (10, 3)
  assert np.isfinite(prediction).all()


@pytest.mark.slow
def test_evaluate_script_writes_every_artifact(run_dir):
  result = subprocess.run([sys.executable, 'scripts/evaluate.py', '--logdir', str(run_dir), '--episodes', '1',
                           '--video', '--diagnose', '--horizon', '10'], cwd=ROOT, capture_output=True, timeout=300)
  assert result.returncode == 0, result.stderr.decode()[-3000:]
  for name in ('openloop_strip.png', 'openloop.gif', 'diagnostics.png', 'diagnostics.json'):
    assert os.path.getsize(run_dir / 'analysis' / name) > 100


def test_planner_predictions_pair_what_the_planner_expected_with_what_the_next_steps_paid(run_dir):
  run = evaluation.LoadedRun(str(run_dir))
  found = evaluation.planner_predictions(run, episodes=1)
  checkpoint = os.path.basename(run.checkpoint)
  assert found['checkpoint'] == checkpoint and checkpoint.startswith('ckpt-')
  record = json.load(open(run_dir / 'analysis' / f'planner_predictions-{checkpoint}.json'))
  steps = found['steps']
  assert steps == len(record['predicted']) == len(record['realized']) == len(record['spread']) > 1
  assert found['realized_mean'] == pytest.approx(np.mean(record['realized']), abs=1e-3)
  assert 0.0 <= found['tied_share'] <= 1.0 and min(record['spread']) >= 0.0
  assert found['horizon'] == gin.query_parameter('cem_plan.horizon')
  # The same plans as acting alone: the recorded episode returns equal evaluate's on the same start.
  assert found['returns'] == evaluation.evaluate(run, episodes=1)['returns']


def test_paid_returns_discount_the_next_h_rewards_and_stop_at_the_episode_end():
  paid = evaluation.discounted_windows(np.array([1.0, 0.0, 2.0, 4.0]), horizon=2, discount=0.5)
  assert paid == [1.0 + 0.5 * 0.0, 0.0 + 0.5 * 2.0, 2.0 + 0.5 * 4.0, 4.0]


def test_plan_details_are_the_plan_the_agent_acted_on():
  config_lib.parse([], fake_run_gin(FAKE))
  agent = agent_lib.Agent(world_model.WorldModel(2))
  image = {'image': np.zeros((64, 64, 3), np.uint8)}
  for t in range(2):
    seed = np.array([7, t], np.int32)
    action = agent.act(image, seed, explore=False)
    details = agent.plan_details(seed)
    np.testing.assert_array_equal(details['action'].numpy(), action)
    elite = details['elite_returns'].numpy()
    assert elite.shape == (gin.query_parameter('cem_plan.top_k'),) and np.all(np.diff(elite) <= 0)
    assert details['mean'].shape == (gin.query_parameter('cem_plan.horizon'), 2)


def test_a_retried_episode_keeps_only_the_plans_of_the_attempt_that_finished():
  class Stub:  # An agent whose every plan predicts 1.0 for the elite.
    def reset(self):
      pass

    def act(self, observation, seed, explore):
      return np.zeros(1)

    def plan_details(self, seed):
      return {'elite_returns': tf.constant([1.0, 1.0])}

  recorder = evaluation._PlanRecorder(Stub())  # pylint: disable=protected-access
  recorder.reset()
  for _ in range(3):  # A worker crash after three steps: run_episode_retrying resets the policy and starts again.
    recorder.act({}, np.array([0, 0]), False)
  recorder.reset()
  recorder.act({}, np.array([0, 0]), False)
  assert recorder.steps == [(1.0, 0.0)]
