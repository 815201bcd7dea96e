"""Shared test fixtures: gin bindings for tiny models and for short fake-env runs."""
import importlib.util
import json
import os

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')  # Before TensorFlow is first imported.

import gin  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position
import pytest  # pylint: disable=wrong-import-position
import tensorflow as tf  # pylint: disable=wrong-import-position

from planet import gin_text  # pylint: disable=wrong-import-position
from planet import rundir  # pylint: disable=wrong-import-position
from planet.models import base  # pylint: disable=wrong-import-position
from planet.report import analysis  # pylint: disable=wrong-import-position

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# What gin/base.gin and the ablation overlays import, for tests that bind without those files.
GIN_IMPORTS = ['import planet.agent', 'import planet.envs', 'import planet.networks', 'import planet.optimizer',
               'import planet.planner', 'import planet.training', 'import planet.world_model',
               'import planet.models.rssm', 'import planet.models.ssm', 'import planet.models.gru',
               'import planet.models.drnn']
# Tiny model and planner sizes (the same as gin/debug.gin's), for every model variant.
TINY = ['RSSM.deterministic_size = 16', 'RSSM.stochastic_size = 4', 'RSSM.hidden_size = 16',
        'Encoder.depth = 4', 'Decoder.depth = 4', 'RewardHead.units = 16',
        'cem_plan.horizon = 3', 'cem_plan.iterations = 2', 'cem_plan.candidates = 20', 'cem_plan.top_k = 5']
TINY_VARIANTS = ['GRUModel.deterministic_size = 16', 'GRUModel.hidden_size = 16', 'SSM.stochastic_size = 4',
                 'SSM.hidden_size = 16', 'DRNN.stochastic_size = 4', 'DRNN.deterministic_size = 16',
                 'DRNN.hidden_size = 16']
# A short Algorithm 1 on the fake env: 2 seed episodes, C = 3 updates of 2 x 6 chunks, 10 agent steps per episode.
FAKE_RUN = ["train.task = 'fake'", 'train.seed_episodes = 2', 'train.collect_interval = 3', 'train.batch_size = 2',
            'train.chunk_length = 6', 'train.test_every = 2', 'train.final_test_episodes = 1', 'train.video_every = 2',
            'make_env.max_env_steps = 20']


@pytest.fixture(autouse=True)
def _clear_gin():
  gin.clear_config()
  yield
  gin.clear_config()


def tiny_gin(extra=()):
  """Bindings for tiny model and planner sizes (after the imports they need), then `extra`."""
  return [*GIN_IMPORTS, *TINY, *TINY_VARIANTS, *extra]


def fake_run_gin(extra=()):
  """tiny_gin plus a short fake-env run; `extra` bindings override (later bindings win)."""
  return tiny_gin([*FAKE_RUN, *extra])


class ToyModel(base.StateSpaceModel):
  """Deterministic state x in R^A moved by the action: x' = x + a. Reward is -|x' - target|^2."""

  stochastic = False

  def __init__(self, size):
    super().__init__()
    self.size = size

  def initial(self, batch_size):
    return {'x': tf.zeros([batch_size, self.size])}

  def img_step(self, prev_state, prev_action, seed):
    return {'x': prev_state['x'] + prev_action}

  def features(self, state):
    return state['x']

  def replicate(self, state, count, seed):
    return {'x': tf.repeat(state['x'], count, 0)}


def script(name):
  """scripts/<name>.py loaded as a module (the scripts are not a package), for calling its `main(argv)`."""
  spec = importlib.util.spec_from_file_location(f'{name}_script', os.path.join(ROOT, 'scripts', f'{name}.py'))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def fake_run_dir(path, episodes, total=None, code=None, reason=''):
  """A run directory with `episodes` empty episode files and, with `code`, its exit record (no TensorFlow)."""
  os.makedirs(os.path.join(path, 'train_episodes'))
  for i in range(episodes):
    open(os.path.join(path, 'train_episodes', f'{i:06d}-11.npz'), 'w').close()
  if code is not None:
    rundir.write_exit(path, code, reason, episodes, total)


def pid_of(argument):
  """The process whose command line holds `argument` (e.g. its run directory's --logdir=...), or None."""
  for pid in os.listdir('/proc'):
    try:
      if pid.isdigit() and argument.encode() in open(f'/proc/{pid}/cmdline', 'rb').read():
        return int(pid)
    except OSError:
      pass
  return None


def write_result_run(root, task, variant, seed, points, config=True):
  """A made-up collected run; `config`: its config.gin holds what its name means (True), nothing (None), or the
  configuration of these gin files instead (a list)."""
  path = os.path.join(root, task, variant, f'seed{seed}')
  os.makedirs(path)
  if config is not None:
    files = analysis.config_files(task, variant)[0] if config is True else config
    with open(os.path.join(path, 'config.gin'), 'w') as f:
      f.writelines(f'{key} = {value}\n' for key, value in gin_text.files_bindings(files).items())
  with open(os.path.join(path, 'metrics.jsonl'), 'w') as f:
    for episode in range(1, max(points) + 1):
      record = {'episodes': episode, 'train_return': 1.0}
      if episode in points:
        record.update(test_returns=points[episode], test_return=float(np.mean(points[episode])))
      f.write(json.dumps(record) + '\n')
