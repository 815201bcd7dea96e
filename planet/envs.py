"""Environments behind one small API: reset(seed) -> obs, step(action) -> (obs, reward, done, info).

Observations are dicts with 'image' (uint8 64x64x3 from the task's camera) and, for the dm_control tasks, the
physics state 'qpos'/'qvel' (kept for the state diagnostics of Fig. 11; the agent only sees the image).

Two layers. A *task* takes one control step at a time: `reset(seed)`, `act(action) -> (reward, last)`,
`observe() -> obs` (`SuiteTask` for dm_control, `FakeTask` for tests). The wrappers of planet.wrappers make it an
agent's env (time limit, action repeat, padded actions).
Real tasks run in a worker process (`planet.env_worker`, driven by `DMControlEnv`) that never imports TensorFlow.
"""
import dataclasses
import importlib
import logging
import os
import pickle
import select
import struct
import subprocess
import sys

import gin
import numpy as np

from planet import tasks as tasks_lib
from planet import wrappers

IMAGE_SIZE = tasks_lib.IMAGE_SIZE


class EnvWorkerError(RuntimeError):
  """The environment worker died, hung or reported an error."""


class DMControlEnv:
  """A dm_control task in its own process. Restarts the worker at the next reset() if it died."""

  def __init__(self, name, seed=0, action_repeat=None, size=IMAGE_SIZE, max_env_steps=1000, timeout=300.0):
    task = tasks_lib.get(name)
    self.name = name
    self.action_repeat = action_repeat or task.action_repeat
    # The worker gets the task itself (not its name), so tasks registered at run time work too; the reward
    # function stays here (it may not pickle, and only the true simulator uses it).
    self._init = dict(task=dataclasses.replace(task, true_reward=None), action_repeat=self.action_repeat, size=size,
                      max_env_steps=max_env_steps, seed=seed)
    self._timeout = timeout
    self._process = None
    self._start()

  def _start(self):
    env = dict(os.environ)
    env.setdefault('MUJOCO_GL', 'egl')
    # A dedicated module, not multiprocessing: spawn would re-import the parent's main script and TensorFlow.
    self._process = subprocess.Popen([sys.executable, '-m', 'planet.env_worker'], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
    info = self._call('init', **self._init)
    self.action_size = info['action_size']
    self.action_low, self.action_high = info['action_low'], info['action_high']

  def _call(self, command, **kwargs):
    data = pickle.dumps((command, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
    try:
      self._process.stdin.write(struct.pack('<Q', len(data)) + data)
      self._process.stdin.flush()
      header = self._read_exactly(8)
      (size,) = struct.unpack('<Q', header)
      status, result = pickle.loads(self._read_exactly(size))
    except (BrokenPipeError, EOFError, OSError) as e:
      try:  # The pipe closes before the exit status is ready; reap the worker so reset() sees it is gone.
        code = self._process.wait(timeout=5)
      except subprocess.TimeoutExpired:
        self._process.kill()
        code = self._process.wait()
      raise EnvWorkerError(
          f'the environment worker for {self.name!r} died (exit code {code}) during {command!r}; it is '
          'restarted at the next reset(). A negative code or 139 is usually a crash in the renderer: check '
          f"MUJOCO_GL (now {os.environ.get('MUJOCO_GL', 'egl')!r}).") from e
    if status == 'error':
      message, trace = result
      logging.debug('environment worker traceback:\n%s', trace)
      raise EnvWorkerError(f'environment {self.name!r} failed in {command!r}: {message}')
    return result

  def _read_exactly(self, size):
    chunks, fd = [], self._process.stdout.fileno()
    while size:
      ready, _, _ = select.select([fd], [], [], self._timeout)
      if not ready:
        self._process.kill()
        raise EnvWorkerError(f'the environment worker for {self.name!r} did not answer within '
                             f'{self._timeout:.0f} s and was killed; it is restarted at the next reset().')
      chunk = os.read(fd, size)
      if not chunk:
        raise EOFError
      chunks.append(chunk)
      size -= len(chunk)
    return b''.join(chunks)

  def reset(self, seed=None):
    if self._process.poll() is not None:
      logging.warning('environment worker for %r had exited (code %s); restarting it.', self.name,
                      self._process.returncode)
      self._start()
    return self._call('reset', seed=seed)

  def step(self, action):
    return self._call('step', action=np.asarray(action, np.float32))

  def crash_worker(self):
    """Makes the worker die the way a segfaulting renderer does (exit 139): for tests of the recovery path."""
    self._call('crash')

  def close(self):
    if self._process and self._process.poll() is None:
      try:
        self._call('close')
      except EnvWorkerError:
        pass
      self._process.wait(timeout=10)

  def __del__(self):
    try:
      if self._process and self._process.poll() is None:
        self._process.kill()
    except Exception:  # pylint: disable=broad-except
      pass


def _rendering_error(error):
  backend = os.environ.get('MUJOCO_GL', 'egl')
  first = (str(error).splitlines() or [''])[0][:200]
  return RuntimeError(
      f'rendering with MUJOCO_GL={backend} failed ({type(error).__name__}: {first}); install its system libraries '
      '(Debian: apt-get install libegl1 libgl1-mesa-dri for egl, libosmesa6 for osmesa) or set MUJOCO_GL to a '
      'backend that works here (see docs/troubleshooting.md)')


def _import_suite(render):
  """dm_control.suite, imported here and not at module level: the training process imports this module too, and
  must never load a renderer. Version and rendering problems become one-line RuntimeErrors naming the fix."""
  try:  # mujoco and dm_control._render load the MUJOCO_GL backend's system libraries.
    mujoco = importlib.import_module('mujoco')
    if render:
      importlib.import_module('dm_control._render')
  except Exception as e:  # pylint: disable=broad-except
    raise _rendering_error(e) from e
  if int(mujoco.__version__.split('.')[0]) != 3:
    raise RuntimeError(f'mujoco {mujoco.__version__} is installed, but dm-control==1.0.50 needs mujoco 3.x '
                       '(tested: mujoco==3.17.0): reinstall with `pip install -e .`.')
  try:
    return importlib.import_module('dm_control.suite')
  except Exception as e:  # pylint: disable=broad-except
    raise RuntimeError(
        f'importing dm_control failed ({type(e).__name__}: {e}). This project is tested with '
        'dm-control==1.0.50 and mujoco==3.17.0 (mujoco 4.x breaks dm-control 1.0.50): '
        "reinstall with `pip install -e .`.") from e


class SuiteTask:
  """One dm_control suite task, one control step at a time; renders the task's camera only in observe().

  `render=False` observes the physics state alone (CEM with the true simulator). dm_control is imported here,
  not at module level: the training process imports this module too, and must never load a renderer.
  """

  def __init__(self, task, seed=0, size=IMAGE_SIZE, render=True):
    """`task`: a planet.tasks.Task or a registered task's name."""
    task = tasks_lib.get(task) if isinstance(task, str) else task
    suite = _import_suite(render)
    self.name = task.name
    self.env = suite.load(task.domain, task.task, task_kwargs={'random': seed})
    self._size, self._camera, self._render = size, task.camera, render
    spec = self.env.action_spec()
    self.action_size = int(spec.shape[0])
    self.action_low = np.asarray(spec.minimum, np.float32)
    self.action_high = np.asarray(spec.maximum, np.float32)
    if render:
      self.render()  # Fail here, with the backend named, rather than in the middle of an episode.

  def render(self):
    try:
      return self.env.physics.render(self._size, self._size, camera_id=self._camera)
    except Exception as e:  # pylint: disable=broad-except
      raise _rendering_error(e) from e

  def reset(self, seed=None):
    if seed is not None:
      self.env.task.random.seed(seed)
    self.env.reset()

  def act(self, action):
    action = np.clip(np.asarray(action, np.float64), self.action_low, self.action_high)
    time_step = self.env.step(action)
    return time_step.reward or 0.0, time_step.last()

  def observe(self):
    physics = self.env.physics
    obs = {'qpos': physics.data.qpos.astype(np.float32).copy(), 'qvel': physics.data.qvel.astype(np.float32).copy()}
    if self._render:
      obs['image'] = self.render()
    return obs

  def close(self):
    pass


class FakeTask:
  """A point on a line, drawn as a bright column; reward 1 - |position| (highest at the centre).

  A cheap in-process stand-in for tests: a model and planner that learn anything move the point to the centre.
  """

  def __init__(self, seed=0, size=IMAGE_SIZE, action_size=1, start=None):
    self.name = 'fake'
    self._start = start  # A fixed start position for every reset; None draws it uniformly from [-1, 1].
    self.action_size = action_size
    self.action_low = -np.ones(action_size, np.float32)
    self.action_high = np.ones(action_size, np.float32)
    self._size = size
    self._rng = np.random.RandomState(seed)
    self._pos = np.zeros(action_size)

  def reset(self, seed=None):
    if seed is not None:
      self._rng = np.random.RandomState(seed)
    self._pos = self._rng.uniform(-1, 1, self.action_size)
    if self._start is not None:
      self._pos[:] = self._start

  def act(self, action):
    self._pos = np.clip(self._pos + 0.1 * np.clip(np.asarray(action, np.float64), -1, 1), -1, 1)
    return float(1 - abs(self._pos[0])), False

  def observe(self):
    image = np.zeros((self._size, self._size, 3), np.uint8)
    column = int(np.clip((self._pos[0] + 1) / 2 * (self._size - 1), 0, self._size - 1))
    image[:, max(0, column - 2):column + 3] = 255
    return {'image': image, 'qpos': self._pos.astype(np.float32), 'qvel': np.zeros_like(self._pos, np.float32)}

  def close(self):
    pass


def suite_env(task, seed=0, action_repeat=None, size=IMAGE_SIZE, max_env_steps=1000, render=True):
  """A dm_control task (a planet.tasks.Task or a registered name) as an agent's env in this process: the env
  worker's. The true simulator composes the same wrappers around its own SuiteTask."""
  task = tasks_lib.get(task) if isinstance(task, str) else task
  return wrappers.ActionRepeat(wrappers.TimeLimit(SuiteTask(task, seed=seed, size=size, render=render), max_env_steps),
                      action_repeat or task.action_repeat)


class FakeEnv(wrappers.ActionRepeat):
  """`FakeTask` with a time limit and action repeat, in this process (tests)."""

  def __init__(self, seed=0, action_repeat=2, size=IMAGE_SIZE, max_env_steps=100, action_size=1, start=None):
    super().__init__(wrappers.TimeLimit(FakeTask(seed, size, action_size, start), max_env_steps), action_repeat)


@gin.configurable(denylist=['name', 'seed'])
def make_env(name, seed=0, action_repeat=None, max_env_steps=1000, size=IMAGE_SIZE):
  """The task by name (planet.tasks); `action_repeat=None` takes the paper's value for the task (App. A)."""
  if name == 'multitask':
    raise ValueError("'multitask' is a set of tasks: training.train makes one env per task")
  task = tasks_lib.get(name)
  if size != IMAGE_SIZE:
    raise ValueError(f'make_env.size = {size}: the encoder and decoder of App. A take {IMAGE_SIZE}x{IMAGE_SIZE} '
                     'images; leave make_env.size at its default')
  if task.is_fake:
    return FakeEnv(seed=seed, action_repeat=action_repeat or task.action_repeat, size=size,
                   max_env_steps=max_env_steps, action_size=task.fake_action_size)
  return DMControlEnv(name, seed=seed, action_repeat=action_repeat, size=size, max_env_steps=max_env_steps)
