"""CEM planning with the true simulator (Table 1's last row, Fig. 12).

Candidates are scored by MuJoCo's native multi-threaded `mujoco.rollout` from the current physics state, with the
action repeat, summing the task's reward (planet.tasks: vectorised restatements of the dm_control suite's; the
quantities they need that are not in the state come from extra sensors added to a copy of the task's model, so
everything is computed in C). The real episode steps through the same wrappers as training (planet.wrappers). The
CEM refit is the learned planner's (`planner.refit`): one implementation, two scorers.
Rendering is never used here: dm_control is imported with MUJOCO_GL=disable, because merely loading Mesa's EGL
in a process that also loads TensorFlow crashes (SIGSEGV, clashing LLVMs), and the refit runs in TensorFlow.
Playing whole episodes, their records and resuming them: planet.experiments.true_sim_episodes.
"""
import importlib
import os
import platform
import sys
import time

import mujoco
import numpy as np
import tensorflow as tf
from mujoco import rollout as rollout_lib

from planet import envs
from planet import planner
from planet import rundir
from planet import tasks as tasks_lib
from planet import wrappers
from planet.experiments import matrix

# Model arrays that tasks change at reset (reacher's target, finger's damping, ...): mirrored before scoring.
_MIRRORED = ('geom_pos', 'geom_size', 'site_pos', 'site_size', 'body_pos', 'body_mass', 'dof_damping')
Settings = matrix.CemSettings
PAPER = matrix.CEM_PAPER


def _import_suite_without_rendering():
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
    spec = tasks_lib.get(task)
    if spec.true_reward is None:
      raise ValueError(f'task {task!r} has no true-simulator reward (planet.tasks.Task.true_reward)')
    _import_suite_without_rendering()
    self.task = task
    self._reward = spec.true_reward
    suite_task = envs.SuiteTask(spec, seed=seed, render=False)
    self._time_limit = wrappers.TimeLimit(suite_task, max_env_steps)
    self._episode = wrappers.ActionRepeat(self._time_limit, action_repeat or spec.action_repeat)
    self.env = suite_task.env  # The dm_control environment (tests reach into its physics).
    self.action_repeat = self._episode.action_repeat
    self.physics_steps = int(round(self.env.control_timestep() / self.env.physics.timestep()))
    module = importlib.import_module(f'dm_control.suite.{spec.domain}')
    xml, assets = module.get_model_and_assets()
    xml = xml.decode() if isinstance(xml, bytes) else xml
    extra = ''.join(element for _, element in spec.sensors)
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
    self.threads = len(self._datas)

  @property
  def max_env_steps(self):
    return self._time_limit.max_env_steps

  @max_env_steps.setter
  def max_env_steps(self, value):
    self._time_limit.max_env_steps = value

  def reset(self, seed=None):
    """A new episode; `seed` fixes its start state (the task's random draws)."""
    self._episode.reset(seed)

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
    _, reward, done, _ = self._episode.step(action)
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
    return self._reward(qpos, qvel, sensors, control[:, ends], self.model)

  def returns(self, state, actions):
    return self.rewards(state, actions).sum(-1)


def cem_plan(sim, state, settings, rng, std_estimator='std', init_mean=None, stats=None):
  """Algorithm 2 with the true simulator scoring the candidates; the refit is `planner.refit`.

  Returns the final mean action sequence [H, A]. `init_mean` replaces the Normal(0, I) start's mean (warm start).
  `stats`, a dict, receives `scoring`: per iteration, how many candidates returned more than zero (all zero: the
  top K were ties at zero, and the refit averaged random sequences).
  """
  mean = np.zeros([settings.horizon, sim.action_size]) if init_mean is None else np.array(init_mean, np.float64)
  std = np.ones_like(mean)
  top_k = min(settings.top_k, settings.candidates)
  for _ in range(settings.iterations):
    actions = np.clip(mean + std * rng.standard_normal((settings.candidates,) + mean.shape), -1, 1)
    returns = sim.returns(state, actions)
    if stats is not None:
      stats.setdefault('scoring', []).append(int(np.sum(returns > 0)))
    mean, std = planner.refit(tf.constant(actions, tf.float32), tf.constant(returns, tf.float32), top_k,
                              std_estimator)
    mean, std = mean.numpy().astype(np.float64), std.numpy().astype(np.float64)
  return mean


def start_hit_rates(task, seeds, candidates=1000, horizon=12):
  """How blind CEM starts: per seed, the share of random action sequences N(0, I) clipped to [-1, 1] with any
  reward from the start state (one generator, seeded 0, drawn through the seeds in order). Returns text lines."""
  sim = TrueSimulator(task, threads=1)
  rng = np.random.RandomState(0)
  lines = []
  for seed in range(seeds):
    sim.reset(seed)
    returns = sim.returns(sim.state(), np.clip(rng.standard_normal((candidates, horizon, sim.action_size)), -1, 1))
    lines.append(f'{task} seed {seed}: {100 * np.mean(returns > 0):.1f}% of {candidates} random sequences '
                 f'(H={horizon}) score > 0; best {returns.max():.0f}')
  return lines


def benchmark(task, out_path=None, candidates=1000, horizon=12):
  """Physics steps per second: Python env.step loop, rollout with 1 thread, rollout with all threads.
  Returns the records (also appended to `out_path`)."""
  rows = []
  sim = TrueSimulator(task, threads=1)
  sim.reset()
  tic, count = time.time(), 0
  while time.time() - tic < 2:
    sim.env.step(np.zeros(sim.action_size))
    count += sim.physics_steps
  rows.append(('env_step_python_loop', count / (time.time() - tic)))
  actions = np.random.RandomState(0).uniform(-1, 1, (candidates, horizon, sim.action_size))
  for threads in (1, os.cpu_count()):
    sim = TrueSimulator(task, threads=threads)
    sim.reset()
    state = sim.state()
    sim.returns(state, actions[:10])
    tic = time.time()
    sim.returns(state, actions)
    seconds = time.time() - tic
    rows.append((f'rollout_{threads}_threads', candidates * (horizon * sim.action_repeat * sim.physics_steps + 1)
                 / seconds))
  records = [dict(name=f'true_sim_{task}_{name}', value=round(value), unit='physics steps/s', task=task,
                  cpus=os.cpu_count(), machine=platform.machine()) for name, value in rows]
  for record in records:
    if out_path:
      rundir.append_jsonl(out_path, record)
  return records
