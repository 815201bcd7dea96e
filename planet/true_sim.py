"""CEM planning with the true simulator (Table 1's last row, Fig. 12).

Candidates are scored by MuJoCo's native multi-threaded `mujoco.rollout` from the current physics state, with the
action repeat, summing the task's reward. The reward functions below are vectorised restatements of the
dm_control suite's (read from dm_control 1.0.50); the quantities they need that are not in the state (body
positions and orientations) come from extra position sensors added to a copy of the task's model, so everything
is computed in C. The CEM refit is the learned planner's (`planner.refit`): one implementation, two scorers.
Rendering is never used here: dm_control is imported with MUJOCO_GL=disable, because merely loading Mesa's EGL
in a process that also loads TensorFlow crashes (SIGSEGV, clashing LLVMs), and the refit runs in TensorFlow.
"""
import collections
import importlib
import os

import sys

import mujoco
import numpy as np
from dm_control.utils import rewards as rewards_lib
from mujoco import rollout as rollout_lib

from planet import analysis
from planet import envs

# Extra sensors per task: (name, MJCF sensor element). Read back as named sensordata in the reward functions.
_EXTRA_SENSORS = {
    'cartpole': [('pole_zaxis', '<framezaxis name="pole_zaxis" objtype="xbody" objname="pole_1"/>')],
    'reacher': [('target_pos', '<framepos name="target_pos" objtype="geom" objname="target"/>'),
                ('finger_pos', '<framepos name="finger_pos" objtype="geom" objname="finger"/>')],
    'cheetah': [],
    'finger': [],
    'cup': [('target_pos', '<framepos name="target_pos" objtype="site" objname="target"/>'),
            ('ball_pos', '<framepos name="ball_pos" objtype="xbody" objname="ball"/>')],
    'walker': [('torso_pos', '<framepos name="torso_pos" objtype="xbody" objname="torso"/>'),
               ('torso_zaxis', '<framezaxis name="torso_zaxis" objtype="xbody" objname="torso"/>')],
}
# Model arrays that tasks change at reset (reacher's target, finger's damping, ...): mirrored before scoring.
_MIRRORED = ('geom_pos', 'geom_size', 'site_pos', 'site_size', 'body_pos', 'body_mass', 'dof_damping')


def _reward_cartpole(q, v, s, control, model):
  del model
  upright = (s['pole_zaxis'][..., 2] + 1) / 2
  centered = (1 + rewards_lib.tolerance(q[..., 0], margin=2)) / 2
  small_control = (4 + rewards_lib.tolerance(control[..., 0], margin=1, value_at_margin=0,
                                             sigmoid='quadratic')) / 5
  small_velocity = (1 + rewards_lib.tolerance(v[..., 1], margin=5)) / 2
  return upright * small_control * small_velocity * centered


def _reward_reacher(q, v, s, control, model):
  del q, v, control
  radii = model.geom_size[model.geom('target').id, 0] + model.geom_size[model.geom('finger').id, 0]
  distance = np.linalg.norm((s['target_pos'] - s['finger_pos'])[..., :2], axis=-1)
  return rewards_lib.tolerance(distance, (0, radii))


def _reward_cheetah(q, v, s, control, model):
  del q, v, control, model
  return rewards_lib.tolerance(s['torso_subtreelinvel'][..., 0], bounds=(10, float('inf')), margin=10,
                               value_at_margin=0, sigmoid='linear')


def _reward_finger(q, v, s, control, model):
  del q, v, control, model
  return (s['hinge_velocity'][..., 0] <= -15.0).astype(np.float64)


def _reward_cup(q, v, s, control, model):
  del q, v, control
  offset = np.abs((s['target_pos'] - s['ball_pos'])[..., [0, 2]])
  target_size = model.site_size[model.site('target').id, [0, 2]]
  ball_size = model.geom_size[model.geom('ball').id, 0]
  return np.all(offset < target_size - ball_size, axis=-1).astype(np.float64)


def _reward_walker(q, v, s, control, model):
  del q, v, control, model
  standing = rewards_lib.tolerance(s['torso_pos'][..., 2], bounds=(1.2, float('inf')), margin=0.6)
  upright = (1 + s['torso_zaxis'][..., 2]) / 2
  stand = (3 * standing + upright) / 4
  move = rewards_lib.tolerance(s['torso_subtreelinvel'][..., 0], bounds=(1, float('inf')), margin=0.5,
                               value_at_margin=0.5, sigmoid='linear')
  return stand * (5 * move + 1) / 6


REWARDS = {'cartpole': _reward_cartpole, 'reacher': _reward_reacher, 'cheetah': _reward_cheetah,
           'finger': _reward_finger, 'cup': _reward_cup, 'walker': _reward_walker}


def _suite():
  """dm_control.suite, imported without loading any OpenGL backend (see the module docstring)."""
  if 'dm_control._render' not in sys.modules:
    previous = os.environ.get('MUJOCO_GL')
    os.environ['MUJOCO_GL'] = 'disable'
    try:
      importlib.import_module('dm_control.suite')
    finally:  # Env worker processes started later must still render with the user's backend.
      if previous is None:
        del os.environ['MUJOCO_GL']
      else:
        os.environ['MUJOCO_GL'] = previous
  return importlib.import_module('dm_control.suite')


class TrueSimulator:
  """A dm_control task (no rendering) plus a sensor-augmented copy of its model for batched scoring."""

  def __init__(self, task, seed=0, threads=None, action_repeat=None, max_env_steps=1000):
    spec = envs.task_spec(task)
    if spec is None:
      raise ValueError(f'{task!r} has no true simulator')
    self.task = task
    self.env = _suite().load(spec.domain, spec.task, task_kwargs={'random': seed})
    self.action_repeat = action_repeat or spec.action_repeat
    self.max_env_steps = max_env_steps
    self.physics_steps = self.env._n_sub_steps  # pylint: disable=protected-access
    module = importlib.import_module(f'dm_control.suite.{spec.domain}')
    xml, assets = module.get_model_and_assets()
    xml = xml.decode() if isinstance(xml, bytes) else xml
    extra = ''.join(element for _, element in _EXTRA_SENSORS[task])
    if extra:
      xml = xml.replace('</mujoco>', f'<sensor>{extra}</sensor></mujoco>')
    self.model = mujoco.MjModel.from_xml_string(xml, assets)
    self.action_size = self.model.nu
    self._datas = [mujoco.MjData(self.model) for _ in range(threads or os.cpu_count() or 1)]
    self._spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
    self._sensors = {}
    for i in range(self.model.nsensor):
      adr, dim = self.model.sensor_adr[i], self.model.sensor_dim[i]
      self._sensors[mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_SENSOR, i)] = slice(adr, adr + dim)
    self._env_steps = 0

  def reset(self, seed=None):
    """A new episode; `seed` fixes its start state (the task's random draws)."""
    if seed is not None:
      self.env.task.random.seed(seed)
    self.env.reset()
    self._env_steps = 0

  def state(self):
    """The full physics state of the env, with the model parameters its task set at reset mirrored."""
    physics = self.env.physics
    for name in _MIRRORED:
      getattr(self.model, name)[:] = getattr(physics.model, name)
    state = np.empty(mujoco.mj_stateSize(self.model, self._spec))
    mujoco.mj_getState(physics.model.ptr, physics.data.ptr, state, self._spec)
    return state

  def step(self, action):
    """One agent step (action repeat R) in the real env; returns (summed reward, done)."""
    reward, done = 0.0, False
    for _ in range(self.action_repeat):
      time_step = self.env.step(action)
      reward += time_step.reward or 0.0
      self._env_steps += 1
      if time_step.last() or self._env_steps >= self.max_env_steps:
        done = True
        break
    return reward, done

  def rewards(self, state, actions):
    """Per-env-step rewards [J, H * R] of action sequences [J, H, A] from `state`, by batched rollout."""
    count, horizon, _ = actions.shape
    per_action = self.action_repeat * self.physics_steps
    control = np.repeat(actions.astype(np.float64), per_action, axis=1)
    # One more physics step: MuJoCo computes sensors at the start of a step, i.e. for the previous state.
    control = np.concatenate([control, control[:, -1:]], 1)
    states, sensordata = rollout_lib.rollout(self.model, self._datas, np.repeat(state[None], count, 0), control)
    ends = np.arange(1, horizon * self.action_repeat + 1) * self.physics_steps - 1
    nq, nv = self.model.nq, self.model.nv
    qpos, qvel = states[:, ends, 1:1 + nq], states[:, ends, 1 + nq:1 + nq + nv]
    sensors = {name: sensordata[:, ends + 1, index] for name, index in self._sensors.items()}
    return REWARDS[self.task](qpos, qvel, sensors, control[:, ends], self.model)

  def returns(self, state, actions):
    return self.rewards(state, actions).sum(-1)


Settings = collections.namedtuple('Settings', 'horizon iterations candidates top_k')
PAPER = Settings(*analysis.TRUE_SIM_PAPER)


def cem_plan(sim, state, settings, rng, std_estimator='std', init_mean=None):
  """Algorithm 2 with the true simulator scoring the candidates; the refit is `planner.refit`.

  Returns the final mean action sequence [H, A]. `init_mean` replaces the Normal(0, I) start's mean (warm start).
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from planet import planner  # pylint: disable=import-outside-toplevel
  mean = np.zeros([settings.horizon, sim.action_size]) if init_mean is None else np.array(init_mean, np.float64)
  std = np.ones_like(mean)
  top_k = min(settings.top_k, settings.candidates)
  for _ in range(settings.iterations):
    actions = np.clip(mean + std * rng.standard_normal((settings.candidates,) + mean.shape), -1, 1)
    returns = sim.returns(state, actions)
    mean, std = planner.refit(tf.constant(actions, tf.float32), tf.constant(returns, tf.float32), top_k,
                              std_estimator)
    mean, std = mean.numpy().astype(np.float64), std.numpy().astype(np.float64)
  return mean


def run_episode(sim, settings, seed, progress=None, std_estimator='std', warm_start=False):
  """One episode planned with the true simulator; returns the episode return.

  Algorithm 2 restarts CEM from Normal(0, I) at every step. `warm_start=True` (not in the paper; a probe of the
  sparse-reward tasks) starts each step's search from the previous plan shifted by one step, with unit spread.
  """
  rng = np.random.RandomState(seed)
  sim.reset(seed)
  total, done, init = 0.0, False, None
  while not done:
    plan = cem_plan(sim, sim.state(), settings, rng, std_estimator, init)
    reward, done = sim.step(plan[0])
    if warm_start:
      init = np.concatenate([plan[1:], np.zeros_like(plan[:1])])
    total += reward
    if progress is not None:
      progress.update(1)
  return total
