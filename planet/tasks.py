"""The one registry of tasks: every other module reads task facts from here.

A task is its dm_control domain and task, a title for figures, the paper's action repeat (App. A; read from the
task's gin file, gin/<name>.gin, the one place it is written), the camera, and for CEM with the true simulator
(Table 1's last row) its reward restated over batches of rollouts plus the extra MJCF sensors that reward reads.
Adding a task is one `register(Task(...))` here, one gin file (gin/<name>.gin) and, for Table 1, its published
numbers in results/reference/table1.csv.

The reward functions are vectorised restatements of the dm_control suite's (read from dm_control 1.0.50). They
take (qpos, qvel, sensors, control, model) with leading batch/time axes; `sensors` maps sensor names to arrays.
"""
import dataclasses
import functools
from typing import Callable
from typing import Optional
from typing import Tuple

import numpy as np
from dm_control.utils import rewards as rewards_lib

from planet import gin_text


@dataclasses.dataclass(frozen=True)
class Task:
  name: str
  domain: Optional[str]  # dm_control suite domain; None for the in-process fake tasks of the tests.
  task: Optional[str]
  title: str
  camera: int = 0
  # CEM with the true simulator: reward of rollouts, and (sensor name, MJCF element) pairs it reads.
  true_reward: Optional[Callable] = None
  sensors: Tuple[Tuple[str, str], ...] = ()
  # In-process fake env (tests): its action size. None for real tasks.
  fake_action_size: Optional[int] = None
  # The gin file that binds its action repeat; None: gin/<name>.gin.
  gin_file: Optional[str] = None

  @property
  def is_fake(self):
    return self.fake_action_size is not None

  @property
  def action_repeat(self):
    """App. A's action repeat R: `make_env.action_repeat` as the task's gin file binds it (the fake tasks: 2)."""
    if self.is_fake:
      return FAKE_ACTION_REPEAT
    return _action_repeat(self.gin_file or f'gin/{self.name}.gin')


FAKE_ACTION_REPEAT = 2


@functools.lru_cache(maxsize=None)
def _action_repeat(gin_file):
  bindings = gin_text.file_bindings(gin_file)
  if 'make_env.action_repeat' not in bindings:
    raise gin_text.ConfigError(f'{gin_file} binds no make_env.action_repeat: every task file states its action '
                               'repeat (App. A)')
  return int(bindings['make_env.action_repeat'])


# App. A: 64 x 64 x 3 images from each task's camera (the encoder and decoder are built for this size).
IMAGE_SIZE = 64

_REGISTRY = {}


def register(task):
  """Adds `task` (a `Task`); returns it. A name can be registered once."""
  if task.name in _REGISTRY or task.name == 'multitask':
    raise ValueError(f'task {task.name!r} is already registered')
  _REGISTRY[task.name] = task
  return task


def unregister(name):
  """Removes a task again (tests that register a made-up task)."""
  del _REGISTRY[name]


def get(name):
  """The task called `name`, or a ValueError listing the choices."""
  if name not in _REGISTRY:
    raise ValueError(f"unknown task {name!r}: choose one of {', '.join(names())}, 'multitask' (all of them in one "
                     "agent, Figs. 6-7), or 'fake' for tests")
  return _REGISTRY[name]


def names(include_fake=False):
  """Registered task names in registration order (Table 1's column order); the fake test tasks only on request."""
  return [name for name, task in _REGISTRY.items() if include_fake or not task.is_fake]


def title(name):
  return _REGISTRY[name].title if name in _REGISTRY else name


# --- True-simulator rewards (dm_control 1.0.50's, over batches).

def _cartpole_reward(q, v, s, control, model):
  del model
  upright = (s['pole_zaxis'][..., 2] + 1) / 2
  centered = (1 + rewards_lib.tolerance(q[..., 0], margin=2)) / 2
  small_control = (4 + rewards_lib.tolerance(control[..., 0], margin=1, value_at_margin=0,
                                             sigmoid='quadratic')) / 5
  small_velocity = (1 + rewards_lib.tolerance(v[..., 1], margin=5)) / 2
  return upright * small_control * small_velocity * centered


def _reacher_reward(q, v, s, control, model):
  del q, v, control
  radii = model.geom_size[model.geom('target').id, 0] + model.geom_size[model.geom('finger').id, 0]
  distance = np.linalg.norm((s['target_pos'] - s['finger_pos'])[..., :2], axis=-1)
  return rewards_lib.tolerance(distance, (0, radii))


def _cheetah_reward(q, v, s, control, model):
  del q, v, control, model
  return rewards_lib.tolerance(s['torso_subtreelinvel'][..., 0], bounds=(10, float('inf')), margin=10,
                               value_at_margin=0, sigmoid='linear')


def _finger_reward(q, v, s, control, model):
  del q, v, control, model
  return (s['hinge_velocity'][..., 0] <= -15.0).astype(np.float64)


def _cup_reward(q, v, s, control, model):
  del q, v, control
  offset = np.abs((s['target_pos'] - s['ball_pos'])[..., [0, 2]])
  target_size = model.site_size[model.site('target').id, [0, 2]]
  ball_size = model.geom_size[model.geom('ball').id, 0]
  return np.all(offset < target_size - ball_size, axis=-1).astype(np.float64)


def _walker_reward(q, v, s, control, model):
  del q, v, control, model
  standing = rewards_lib.tolerance(s['torso_pos'][..., 2], bounds=(1.2, float('inf')), margin=0.6)
  upright = (1 + s['torso_zaxis'][..., 2]) / 2
  stand = (3 * standing + upright) / 4
  move = rewards_lib.tolerance(s['torso_subtreelinvel'][..., 0], bounds=(1, float('inf')), margin=0.5,
                               value_at_margin=0.5, sigmoid='linear')
  return stand * (5 * move + 1) / 6


# The six tasks of the paper, in Table 1's order (each action repeat: its gin file).
register(Task('cartpole', 'cartpole', 'swingup', 'Cartpole Swing Up', true_reward=_cartpole_reward,
              sensors=(('pole_zaxis', '<framezaxis name="pole_zaxis" objtype="xbody" objname="pole_1"/>'),)))
register(Task('reacher', 'reacher', 'easy', 'Reacher Easy', true_reward=_reacher_reward,
              sensors=(('target_pos', '<framepos name="target_pos" objtype="geom" objname="target"/>'),
                       ('finger_pos', '<framepos name="finger_pos" objtype="geom" objname="finger"/>'))))
register(Task('cheetah', 'cheetah', 'run', 'Cheetah Run', true_reward=_cheetah_reward))
register(Task('finger', 'finger', 'spin', 'Finger Spin', true_reward=_finger_reward))
register(Task('cup', 'ball_in_cup', 'catch', 'Cup Catch', true_reward=_cup_reward,
              sensors=(('target_pos', '<framepos name="target_pos" objtype="site" objname="target"/>'),
                       ('ball_pos', '<framepos name="ball_pos" objtype="xbody" objname="ball"/>'))))
register(Task('walker', 'walker', 'walk', 'Walker Walk', true_reward=_walker_reward,
              sensors=(('torso_pos', '<framepos name="torso_pos" objtype="xbody" objname="torso"/>'),
                       ('torso_zaxis', '<framezaxis name="torso_zaxis" objtype="xbody" objname="torso"/>'))))
# Cheap in-process stand-ins for the tests (a point on a line; planet.envs.FakeEnv).
register(Task('fake', None, None, 'Fake (tests)', fake_action_size=1))
register(Task('fake2', None, None, 'Fake, 2 actions (tests)', fake_action_size=2))
