"""CEM planning with the true simulator (Table 1's last row, Fig. 12).

Candidates are scored by MuJoCo's native multi-threaded `mujoco.rollout` from the current physics state, with the
action repeat, summing the task's reward (planet.tasks: vectorised restatements of the dm_control suite's; the
quantities they need that are not in the state come from extra sensors added to a copy of the task's model, so
everything is computed in C). The real episode steps through the same wrappers as training (planet.envs). The
CEM refit is the learned planner's (`planner.refit`): one implementation, two scorers.
Rendering is never used here: dm_control is imported with MUJOCO_GL=disable, because merely loading Mesa's EGL
in a process that also loads TensorFlow crashes (SIGSEGV, clashing LLVMs), and the refit runs in TensorFlow.
Records go to <out>/<task>.jsonl, one line per episode; a rerun skips the (setting, episode) pairs already there.
An episode saves its progress after every agent step (<out>/jobs/<task>/<job>.json.partial) and a rerun continues
it where it stopped, with the same random draws (play_episode).
"""
import importlib
import json
import logging
import os
import platform
import sys
import time

import mujoco
import numpy as np
import tensorflow as tf
import tqdm
from mujoco import rollout as rollout_lib

from planet import envs
from planet import planner
from planet import rundir
from planet import tasks as tasks_lib
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
    self._time_limit = envs.TimeLimit(suite_task, max_env_steps)
    self._episode = envs.ActionRepeat(self._time_limit, action_repeat or spec.action_repeat)
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


def cem_plan(sim, state, settings, rng, std_estimator='std', init_mean=None):
  """Algorithm 2 with the true simulator scoring the candidates; the refit is `planner.refit`.

  Returns the final mean action sequence [H, A]. `init_mean` replaces the Normal(0, I) start's mean (warm start).
  """
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


def play_episode(sim, settings, seed, progress=None, std_estimator='std', warm_start=False, checkpoint=None,
                 info=None):
  """One episode planned with the true simulator; returns the episode return.

  Algorithm 2 restarts CEM from Normal(0, I) at every step. `warm_start=True` (not in the paper; a probe of the
  sparse-reward tasks) starts each step's search from the previous plan shifted by one step, with unit spread.
  `checkpoint`: a file that holds the episode so far after every agent step (the actions taken, the random
  generator's state, the warm-start plan). A call that finds it replays those actions in the env (MuJoCo is
  deterministic) and goes on with the same random draws as an episode that never stopped; if the replay does not
  reproduce the saved return (another physics build), the episode starts over. The file is removed at the end.
  `info`, a dict, receives at the end `resumed_at` (the agent steps that resumes continued from; empty if none)
  and `seconds` (the episode's time, that before any resumes included).
  """
  tic, rng = time.time(), np.random.RandomState(seed)
  identity = dict(task=sim.task, settings=list(settings), std_estimator=std_estimator, warm_start=warm_start,
                  seed=seed, steps=sim.max_env_steps // sim.action_repeat)
  sim.reset(seed)
  total, done, init, actions, seconds_before, resumes = 0.0, False, None, [], 0.0, []
  saved = _read_checkpoint(checkpoint, identity)
  if saved:
    for action in saved['actions']:
      reward, done = sim.step(np.array(action))
      total += reward
    if np.isclose(total, saved['total'], rtol=1e-9, atol=1e-9) and not done:
      actions, seconds_before = saved['actions'], saved['seconds']
      resumes = saved['resumed_at'] + [len(actions)]
      name, keys, *rest = saved['rng']
      rng.set_state((name, np.array(keys, np.uint32), *rest))
      init = None if saved['init'] is None else np.array(saved['init'])
      if progress is not None:
        progress.update(len(actions))
    else:
      logging.warning('%s: replaying its %d saved actions gave return %r, not the saved %r; starting the episode '
                      'over', checkpoint, len(saved['actions']), total, saved['total'])
      sim.reset(seed)
      total, done = 0.0, False
  while not done:
    plan = cem_plan(sim, sim.state(), settings, rng, std_estimator, init)
    reward, done = sim.step(plan[0])
    if warm_start:
      init = np.concatenate([plan[1:], np.zeros_like(plan[:1])])
    total += reward
    actions.append(plan[0].tolist())
    if checkpoint and not done:
      name, keys, pos, has_gauss, cached = rng.get_state()
      rundir.write_atomically(checkpoint, json.dumps(dict(
          identity, actions=actions, total=total, resumed_at=resumes, init=None if init is None else init.tolist(),
          rng=[name, keys.tolist(), pos, has_gauss, cached], seconds=seconds_before + time.time() - tic)))
    if progress is not None:
      progress.update(1)
  if checkpoint and os.path.exists(checkpoint):
    os.remove(checkpoint)
  if info is not None:
    info.update(resumed_at=resumes, seconds=seconds_before + time.time() - tic)
  return total


class CheckpointMismatch(ValueError):
  """The checkpoint file of an episode holds another episode (other task, setting, seed or refit)."""


def _read_checkpoint(path, identity):
  """The saved part of an episode at `path` (see play_episode), or None. One of another episode is refused."""
  if not path or not os.path.exists(path):
    return None
  with open(path) as f:
    saved = json.load(f)
  differing = sorted(key for key, value in identity.items() if saved.get(key) != value)
  if differing:
    raise CheckpointMismatch(f'{path} is the checkpoint of another episode (differs in {", ".join(differing)}); '
                             'move it away to start this one')
  return saved


def run(task, settings, episodes, out_dir, threads=None, progress=True, std_estimator='std', warm_start=False):
  """Plays the missing (setting, episode) pairs of one CEM variant; returns that variant's records of the task."""
  path = os.path.join(out_dir, f'{task}.jsonl')
  done = {(tuple(r['settings']), r['episode'])
          for r in matrix.cem_variant(rundir.read_jsonl(path), std_estimator, warm_start)}
  sim = TrueSimulator(task, threads=threads)
  for setting in settings:
    for episode in range(episodes):
      if (tuple(setting), episode) in done:
        continue
      job = os.path.join(out_dir, 'jobs', task, matrix.true_sim_job_name(std_estimator, setting, episode, warm_start))
      record = _played(sim, setting, episode, std_estimator, warm_start, progress, job)
      rundir.append_jsonl(path, record)
      logging.info('%s %s episode %d: return %.1f in %.0f s', task, setting, episode, record['return'],
                   record['seconds'])
  return matrix.cem_variant(rundir.read_jsonl(path), std_estimator, warm_start)


def play_one(task, setting, episode, record_path, std_estimator='std', threads=None, progress=True):
  """One episode (a scripts/sweep.py job): its record is written to `record_path` alone (atomically); the sweep's
  driver merges job records into results/true_sim/<task>.jsonl. Returns the record."""
  record = _played(TrueSimulator(task, threads=threads), setting, episode, std_estimator, False, progress,
                   record_path)
  rundir.write_atomically(record_path, json.dumps(record))
  return record


def _played(sim, setting, episode, std_estimator, warm_start, progress, job=None):
  """Plays episode `episode` (its seed) with a progress bar; returns its record (one results/true_sim line;
  `resumed_at` lists the steps it was resumed from). `job`: the path of its record file under jobs/ (see
  matrix.true_sim_job_name), beside which its checkpoint (+ '.partial') and lock (+ '.lock') go."""
  bar = tqdm.tqdm(total=sim.max_env_steps // sim.action_repeat, disable=not progress, leave=False,
                  desc=f'{sim.task} H{setting.horizon} I{setting.iterations} J{setting.candidates} '
                       f'K{setting.top_k} ep{episode}')
  lock = None
  if job:  # One process per episode: a second one is refused (RunDirBusy) rather than playing it twice.
    os.makedirs(os.path.dirname(job), exist_ok=True)
    lock = rundir.Lock(os.path.dirname(job), os.path.basename(job) + '.lock')
  info = {}
  score = play_episode(sim, setting, seed=episode, progress=bar, std_estimator=std_estimator, warm_start=warm_start,
                       checkpoint=job and job + '.partial', info=info)
  bar.close()
  record = dict(task=sim.task, settings=list(setting), **setting._asdict(), std_estimator=std_estimator,
                **({'warm_start': True} if warm_start else {}), episode=episode,
                seconds=round(info['seconds'], 2), threads=sim.threads)
  if info['resumed_at']:
    record['resumed_at'] = info['resumed_at']
  record['return'] = score
  if lock:
    lock.release()
    os.remove(lock.path)
  return record


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
