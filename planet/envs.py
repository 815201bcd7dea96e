"""Environments behind one small API: reset() -> obs, step(action) -> (obs, reward, done, info).

Observations are dicts with 'image' (uint8 64x64x3 from camera 0) and, for the dm_control tasks, the physics
state 'qpos'/'qvel' (kept for the state diagnostics of Fig. 11; the agent only sees the image). Real tasks run in
a worker process (`planet.env_worker`) that never imports TensorFlow.
"""
import collections
import logging
import os
import pickle
import select
import struct
import subprocess
import sys

import gin
import numpy as np

# Short name -> (dm_control domain, task, action repeat R of App. A).
Task = collections.namedtuple('Task', 'domain task action_repeat')
TASKS = {
    'cartpole': Task('cartpole', 'swingup', 8),
    'reacher': Task('reacher', 'easy', 4),
    'cheetah': Task('cheetah', 'run', 4),
    'finger': Task('finger', 'spin', 2),
    'cup': Task('ball_in_cup', 'catch', 4),
    'walker': Task('walker', 'walk', 2),
}


class EnvWorkerError(RuntimeError):
  """The environment worker died, hung or reported an error."""


# Cheap in-process stand-ins for tests: name -> action size.
FAKE_TASKS = {'fake': 1, 'fake2': 2}


def task_spec(name):
  if name not in TASKS and name not in FAKE_TASKS and name != 'multitask':
    raise ValueError(f"unknown task {name!r}: choose one of {', '.join(sorted(TASKS))}, 'multitask' "
                     "(all six, Figs. 6-7), or 'fake' for tests")
  return TASKS.get(name)


class DMControlEnv:
  """A dm_control task in its own process. Restarts the worker at the next reset() if it died."""

  def __init__(self, name, seed=0, action_repeat=None, size=64, camera=0, max_env_steps=1000,
               timeout=300.0):
    spec = task_spec(name)
    self.name = name
    self.action_repeat = action_repeat or spec.action_repeat
    self._init = dict(domain=spec.domain, task=spec.task, action_repeat=self.action_repeat, size=size,
                      camera=camera, max_env_steps=max_env_steps, seed=seed)
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
      raise EnvWorkerError(f'environment {self.name!r} failed in {command!r}: {result}')
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


class FakeEnv:
  """A cheap in-process env with the same API, for tests: a point on a line, drawn as a bright column.

  The reward is highest at the centre, so a model and planner that learn anything move the point there.
  """

  def __init__(self, seed=0, action_repeat=2, size=64, max_env_steps=100, action_size=1, start=None):
    self.name = 'fake'
    self._start = start  # A fixed start position for every reset; None draws it uniformly from [-1, 1].
    self.action_repeat = action_repeat
    self.action_size = action_size
    self.action_low = -np.ones(action_size, np.float32)
    self.action_high = np.ones(action_size, np.float32)
    self._size = size
    self._max_env_steps = max_env_steps
    self._rng = np.random.RandomState(seed)
    self._pos = np.zeros(action_size)
    self._env_steps = 0

  def _obs(self):
    image = np.zeros((self._size, self._size, 3), np.uint8)
    column = int(np.clip((self._pos[0] + 1) / 2 * (self._size - 1), 0, self._size - 1))
    image[:, max(0, column - 2):column + 3] = 255
    return {'image': image, 'qpos': self._pos.astype(np.float32), 'qvel': np.zeros_like(self._pos, np.float32)}

  def reset(self, seed=None):
    if seed is not None:
      self._rng = np.random.RandomState(seed)
    self._pos = self._rng.uniform(-1, 1, self.action_size)
    if self._start is not None:
      self._pos[:] = self._start
    self._env_steps = 0
    return self._obs()

  def step(self, action):
    action = np.clip(np.asarray(action, np.float64), -1, 1)
    reward = 0.0
    for _ in range(self.action_repeat):
      self._pos = np.clip(self._pos + 0.1 * action, -1, 1)
      reward += float(1 - abs(self._pos[0]))
      self._env_steps += 1
    done = self._env_steps >= self._max_env_steps
    return self._obs(), reward, done, {'env_steps': self._env_steps}

  def close(self):
    pass


class PaddedActions:
  """Pads an env's action space with unused dimensions to `action_size` (one agent for all tasks, Figs. 6-7).

  The agent acts in the padded space; the env receives the first `env.action_size` entries.
  """

  def __init__(self, env, action_size):
    if action_size < env.action_size:
      raise ValueError(f'cannot pad {env.action_size} action dimensions down to {action_size}')
    self._env = env
    self.name = env.name
    self.action_repeat = env.action_repeat
    self.action_size = action_size
    self.used_action_size = env.action_size

  def reset(self, seed=None):
    return self._env.reset(seed=seed)

  def step(self, action):
    return self._env.step(np.asarray(action)[:self.used_action_size])

  def close(self):
    self._env.close()


@gin.configurable(denylist=['name', 'seed'])
def make_env(name, seed=0, action_repeat=None, max_env_steps=1000, size=64):
  """The task by short name; `action_repeat=None` takes the paper's value for the task (App. A)."""
  task_spec(name)
  if name in FAKE_TASKS:
    return FakeEnv(seed=seed, action_repeat=action_repeat or 2, size=size, max_env_steps=max_env_steps,
                   action_size=FAKE_TASKS[name])
  if name == 'multitask':
    raise ValueError("'multitask' is a set of tasks: training.train makes one env per task")
  return DMControlEnv(name, seed=seed, action_repeat=action_repeat, size=size, max_env_steps=max_env_steps)
