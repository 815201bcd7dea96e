"""End to end: Algorithm 1 on the fake env, resume after SIGKILL, NaN stop, env worker crash, real smoke run."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT
from conftest import fake_run_gin
from planet import config as config_lib
from planet import envs
from planet import logger
from planet import machine
from planet import replay as replay_lib
from planet import training
from planet import updates
from planet import world_model

FAKE = ['train.final_test_episodes = 2']


def _train(logdir, total, extra=()):
  config_lib.parse([], fake_run_gin(FAKE + [f'train.total_episodes = {total}', *extra]))
  return training.train(str(logdir), progress=False)


def test_fake_env_end_to_end(tmp_path, monkeypatch):
  # On a GPU every metrics line carries TensorFlow's peak GPU memory (faked here: the test machines have none).
  monkeypatch.setattr(machine, 'gpu_memory_peak_mib', lambda tf: 1234.4)
  records = _train(tmp_path, 4)
  assert all(r['gpu_peak_mib'] == 1234 for r in records)
  assert [r['episodes'] for r in records] == [1, 2, 3, 4]
  assert [r['grad_steps'] for r in records] == [0, 0, 3, 6]
  assert [r['env_steps'] for r in records] == [20, 40, 60, 80]
  for key in ('image_loss', 'reward_loss', 'kl_loss', 'kl', 'loss', 'update_time'):
    assert np.isfinite(records[-1][key])
  # The collection's time splits into choosing actions and the environment's steps (the rest: resets, stacking).
  assert all(0 < r['act_time'] and 0 < r['env_time'] and r['act_time'] + r['env_time'] <= r['collect_time']
             for r in records)
  assert len(records[-1]['test_returns']) == 2  # The final evaluation runs final_test_episodes.
  assert 'test_return' in records[1] and 'test_return' not in records[2]
  # The open-loop prediction error is measured at every test point (Fig. 10 GIFs only on the video schedule).
  assert all(0 < r['openloop_mse'] < 1 for r in records if 'test_return' in r)
  assert len(replay_lib.list_episodes(tmp_path / 'train_episodes')) == 4
  assert len(replay_lib.list_episodes(tmp_path / 'test_episodes')) == 3
  episode = replay_lib.load_episode(replay_lib.list_episodes(tmp_path / 'train_episodes')[0])
  assert episode['image'].shape == (11, 64, 64, 3) and episode['image'].dtype == np.uint8
  assert episode['reward'][0] == 0 and not episode['action'][0].any()
  assert os.path.exists(tmp_path / 'videos' / 'openloop_000004.gif')
  assert os.path.exists(tmp_path / 'operative_config.gin')
  assert 'cem_plan.candidates = 20' in open(tmp_path / 'operative_config.gin').read()
  assert tf.train.latest_checkpoint(str(tmp_path / 'checkpoints')).endswith('ckpt-4')
  assert any(name.startswith('events') for name in os.listdir(tmp_path / 'tensorboard'))


def _cli(logdir, total):
  params = fake_run_gin(FAKE + [f'train.total_episodes = {total}', 'make_env.max_env_steps = 40'])
  args = [sys.executable, os.path.join(ROOT, 'scripts', 'train.py'), '--gin_file', 'gin/base.gin',
          '--logdir', str(logdir), '--no_progress'] + [f'--gin_param={p}' for p in params]
  return subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.slow
def test_resume_after_sigkill_continues_counters(tmp_path):
  process = _cli(tmp_path, 50)
  deadline = time.time() + 300
  while time.time() < deadline and len(logger.read_metrics(tmp_path)) < 4:
    assert process.poll() is None, process.stderr.read().decode()[-2000:]
    time.sleep(0.2)
  time.sleep(0.5)  # Kill somewhere inside the next episode's updates or collection.
  process.send_signal(signal.SIGKILL)
  process.wait()
  before = logger.read_metrics(tmp_path)
  on_disk = len(replay_lib.list_episodes(tmp_path / 'train_episodes'))
  assert len(before) >= 4
  target = on_disk + 2
  process = _cli(tmp_path, target)
  _, err = process.communicate(timeout=300)
  assert process.returncode == 0, err.decode()[-2000:]
  after = logger.read_metrics(tmp_path)
  episodes = [r['episodes'] for r in after]
  assert episodes == sorted(set(episodes)) and episodes[-1] == target  # No restart, no duplicates.
  resumed = [r for r in after if r['episodes'] > on_disk]
  assert len(resumed) == 2
  last_good = max(r['grad_steps'] for r in before)
  assert resumed[0]['grad_steps'] >= last_good + 3  # Continues from the checkpoint, not from zero.
  assert resumed[0]['env_steps'] == (on_disk + 1) * 40


@pytest.mark.slow
def test_env_worker_crash_is_reported_and_restarted():
  env = envs.DMControlEnv('cartpole', seed=0, max_env_steps=16)
  try:
    env.reset()
    with pytest.raises(envs.EnvWorkerError, match='died'):
      env.crash_worker()
    obs = env.reset()  # Restarts the worker.
    obs, reward, _, _ = env.step([0.1])
    assert obs['image'].shape == (64, 64, 3) and reward >= 0
  finally:
    env.close()


@pytest.mark.slow
def test_real_dm_control_smoke_run(tmp_path):
  args = [sys.executable, os.path.join(ROOT, 'scripts', 'train.py'), '--gin_file=gin/cartpole.gin',
          '--gin_file=gin/debug.gin', f'--logdir={tmp_path}', '--no_progress']
  result = subprocess.run(args, cwd=ROOT, capture_output=True, timeout=600)
  assert result.returncode == 0, result.stderr.decode()[-3000:]
  records = logger.read_metrics(tmp_path)
  assert [r['episodes'] for r in records] == [1, 2, 3]
  assert records[-1]['env_steps'] == 3 * 80 and records[-1]['grad_steps'] == 2
  assert os.path.exists(tmp_path / 'videos' / 'test_000003.gif')
  assert 'gin/debug.gin' in open(tmp_path / 'command.txt').read()
  episode = replay_lib.load_episode(replay_lib.list_episodes(tmp_path / 'train_episodes')[0])
  assert episode['image'].shape == (11, 64, 64, 3) and episode['image'].std() > 1  # Real pixels.


def test_cli_rejects_unknown_task(tmp_path):
  args = [sys.executable, os.path.join(ROOT, 'scripts', 'train.py'), '--gin_file=gin/base.gin',
          "--gin_param=train.task='cartpol'", f'--logdir={tmp_path}']
  result = subprocess.run(args, cwd=ROOT, capture_output=True, timeout=120)
  assert result.returncode != 0
  assert "unknown task 'cartpol'" in result.stderr.decode()


def test_same_seed_gives_the_same_numbers(tmp_path):
  """Bit-for-bit on one machine: the run seed fixes the initial weights and every later draw."""
  first = _train(tmp_path / 'a', 4)
  second = _train(tmp_path / 'b', 4)
  keys = ('loss', 'kl', 'train_return', 'test_returns', 'openloop_mse', 'grad_norm')
  assert [{k: r.get(k) for k in keys} for r in first] == [{k: r.get(k) for k in keys} for r in second]


EDIT_AFTER_IMPORT = r'''
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from planet import config, networks, planner, world_model
from planet import agent as agent_lib
assert planner.__file__.startswith(sys.argv[1]), planner.__file__
config.parse(['gin/cartpole.gin', 'gin/debug.gin'], [])
model = world_model.WorldModel(1)
learner, agent = world_model.Learner(model, 2, 4), agent_lib.Agent(model)
for module, line in ((planner, '  top_k = min(top_k, candidates)\n'), (world_model, '    self.traces += 1')):
  with open(module.__file__) as f:
    source = f.read()
  assert line in source
  with open(module.__file__, 'w') as f:
    f.write(source.replace(line, line.replace(line.strip(), "raise RuntimeError('edited')") + '\n' + line, 1))
batch = {'image': np.zeros([2, 4, *networks.IMAGE_SHAPE], np.uint8), 'action': np.zeros([2, 4, 1], np.float32),
         'reward': np.zeros([2, 4], np.float32)}
print('loss', float(learner.train_step(batch, np.array([0, 1], np.int32))['loss']))
print('action', agent.act({'image': np.zeros(networks.IMAGE_SHAPE, np.uint8)}, np.array([0, 1]), True))
'''


@pytest.mark.slow
def test_a_run_traces_the_code_it_imported_when_the_source_changes(tmp_path):
  """Edits to the source while a run starts (a `git pull`, the next experiment) must not reach its compiled
  functions: they trace without AutoGraph, which would convert the files as they are by then."""
  shutil.copytree(os.path.join(ROOT, 'planet'), tmp_path / 'planet')
  shutil.copytree(os.path.join(ROOT, 'gin'), tmp_path / 'gin')
  result = subprocess.run([sys.executable, '-c', EDIT_AFTER_IMPORT, str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert 'loss' in result.stdout and 'action' in result.stdout


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
  _train(tmp_path, 3)
  original = world_model.WorldModel.loss

  def poisoned(self, batch, seed):
    total, terms = original(self, batch, seed)
    terms['loss'] = terms['loss'] * np.float32('nan')
    return total, terms

  monkeypatch.setattr(world_model.WorldModel, 'loss', poisoned)
  with pytest.raises(updates.TrainingDiverged, match='grad step 4'):
    _train(tmp_path, 5)
  assert tf.train.latest_checkpoint(str(tmp_path / 'checkpoints')).endswith('ckpt-3')
  reader = tf.train.load_checkpoint(str(tmp_path / 'checkpoints'))
  for name in reader.get_variable_to_shape_map():
    value = reader.get_tensor(name)
    if np.issubdtype(np.asarray(value).dtype, np.floating):
      assert np.isfinite(value).all(), name
  assert len(logger.read_metrics(tmp_path)) == 3
