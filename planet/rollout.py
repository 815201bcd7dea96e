"""Acting in an environment: one episode with a policy (`run_episode`, retried where the environment worker crashed)
and the stateless seeds every random draw derives from (`derive_seed`). No training and no optimizer here: the
trainer, the evaluation and the benchmark all play episodes through this module.
"""
import logging
import time
import zlib

import numpy as np

from planet import envs


def derive_seed(*parts):
  """A stateless [2] int32 seed from any parts (ints and strings), stable across runs and resumes."""
  digest = zlib.crc32(repr(parts).encode())
  return np.array([parts[0] if isinstance(parts[0], int) else 0, digest & 0x7FFFFFFF], np.int32)


def run_episode(env, policy, seed, explore, timings=None):
  """One episode with `policy`; returns it as arrays (step 0: reset observation, zero action and reward).
  `timings`, a dict, gets the seconds spent choosing actions (`act_time`) and in the environment's steps
  (`env_time`: physics, rendering and the worker round trip) added to it."""
  policy.reset()
  obs = env.reset(seed=int(seed[1]))
  steps = [dict(obs, action=np.zeros(env.action_size, np.float32), reward=np.float32(0))]
  done, t, acting, stepping = False, 0, 0.0, 0.0
  while not done:
    tic = time.perf_counter()
    action = policy.act(obs, derive_seed(int(seed[0]), int(seed[1]), t), explore)
    toc = time.perf_counter()
    obs, reward, done, _ = env.step(action)
    acting, stepping = acting + toc - tic, stepping + time.perf_counter() - toc
    steps.append(dict(obs, action=np.asarray(action, np.float32), reward=np.float32(reward)))
    t += 1
  if timings is not None:
    timings['act_time'] = timings.get('act_time', 0.0) + acting
    timings['env_time'] = timings.get('env_time', 0.0) + stepping
  return {key: np.stack([step[key] for step in steps]) for key in steps[0]}


def run_episode_retrying(env, policy, seed, explore, attempts=3, timings=None):
  """`run_episode`, restarting a crashed environment worker up to `attempts` times."""
  for attempt in range(attempts):
    try:
      return run_episode(env, policy, seed, explore, timings)
    except envs.EnvWorkerError as e:
      if attempt == attempts - 1:
        raise
      logging.warning('%s -- retrying the episode (%d/%d)', e, attempt + 1, attempts - 1)
  raise AssertionError('unreachable')
