"""Environment worker process: runs one dm_control task, never imports TensorFlow.

Started by `planet.envs.DMControlEnv` as `python -m planet.env_worker`. TensorFlow and the Mesa EGL renderer
in one process crash with SIGSEGV (their bundled LLVMs clash), so rendering lives here. Protocol: length-prefixed
pickles on the original stdout/stdin; the worker's own stdout is redirected to stderr so that library prints
cannot corrupt the stream.
"""
import os
import pickle
import struct
import sys
import traceback


def _read(stream):
  header = stream.read(8)
  if len(header) < 8:
    return None
  (size,) = struct.unpack('<Q', header)
  return pickle.loads(stream.read(size))


def _write(stream, message):
  data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
  stream.write(struct.pack('<Q', len(data)) + data)
  stream.flush()


class _Task:
  """One dm_control task with action repeat and 64x64 camera pixels."""

  def __init__(self, domain, task, action_repeat, size, camera, max_env_steps, seed):
    import numpy as np
    import mujoco
    if int(mujoco.__version__.split('.')[0]) != 3:
      raise RuntimeError(f'mujoco {mujoco.__version__} is installed, but dm-control==1.0.50 needs mujoco 3.x '
                         '(tested: mujoco==3.17.0): reinstall with `pip install -e .`.')
    try:
      from dm_control import suite
    except Exception as e:  # pylint: disable=broad-except
      raise RuntimeError(
          f'importing dm_control failed ({type(e).__name__}: {e}). This project is tested with '
          'dm-control==1.0.50 and mujoco==3.17.0 (mujoco 4.x breaks dm-control 1.0.50): '
          "reinstall with `pip install -e .`.") from e
    self._np = np
    self._env = suite.load(domain, task, task_kwargs={'random': seed})
    self._repeat = action_repeat
    self._size = size
    self._camera = camera
    self._max_env_steps = max_env_steps
    self._env_steps = 0
    spec = self._env.action_spec()
    self.info = {
        'action_size': int(spec.shape[0]),
        'action_low': np.asarray(spec.minimum, np.float32),
        'action_high': np.asarray(spec.maximum, np.float32),
    }
    self.render()  # Fail here, with the backend named, rather than in the middle of an episode.

  def render(self):
    try:
      return self._env.physics.render(self._size, self._size, camera_id=self._camera)
    except Exception as e:  # pylint: disable=broad-except
      backend = os.environ.get('MUJOCO_GL', '<unset>')
      raise RuntimeError(
          f'rendering with MUJOCO_GL={backend} failed ({type(e).__name__}: {e}). Install an EGL driver '
          '(Debian: apt-get install libegl1 libgl1-mesa-dri) or set MUJOCO_GL to a backend that works on this '
          'machine (egl, glfw, osmesa).') from e

  def _obs(self):
    physics = self._env.physics
    return {'image': self.render(),
            'qpos': physics.data.qpos.astype(self._np.float32).copy(),
            'qvel': physics.data.qvel.astype(self._np.float32).copy()}

  def reset(self, seed):
    if seed is not None:
      self._env.task.random.seed(seed)
    self._env.reset()
    self._env_steps = 0
    return self._obs()

  def step(self, action):
    action = self._np.clip(self._np.asarray(action, self._np.float64),
                           self.info['action_low'], self.info['action_high'])
    reward, done = 0.0, False
    for _ in range(self._repeat):
      time_step = self._env.step(action)
      reward += time_step.reward or 0.0
      self._env_steps += 1
      if time_step.last() or self._env_steps >= self._max_env_steps:
        done = True
        break
    return self._obs(), float(reward), done, {'env_steps': self._env_steps}


def main():
  out = os.fdopen(os.dup(1), 'wb')
  os.dup2(2, 1)  # Anything printed by libraries goes to stderr, never into the protocol stream.
  inp = sys.stdin.buffer
  task = None
  while True:
    message = _read(inp)
    if message is None or message[0] == 'close':
      return
    command, kwargs = message
    try:
      if command == 'init':
        task = _Task(**kwargs)
        result = task.info
      elif command == 'reset':
        result = task.reset(**kwargs)
      elif command == 'step':
        result = task.step(**kwargs)
      elif command == 'crash':  # For tests: die like a segfaulting renderer would.
        os._exit(139)
      else:
        raise ValueError(f'unknown command {command!r}')
      _write(out, ('ok', result))
    except Exception as e:  # pylint: disable=broad-except
      _write(out, ('error', f'{type(e).__name__}: {e}\n{traceback.format_exc()}'))


if __name__ == '__main__':
  main()
