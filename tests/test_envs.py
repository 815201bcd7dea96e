"""Environments (planet/envs.py): the fake env's API, an unknown task's error."""
import numpy as np
import pytest

from planet import envs


def test_fake_env_api():
  env = envs.FakeEnv(seed=0, max_env_steps=6, action_repeat=2)
  obs = env.reset(seed=1)
  assert obs['image'].shape == (64, 64, 3) and obs['image'].dtype == np.uint8
  steps = 0
  done = False
  while not done:
    obs, reward, done, info = env.step([0.5])
    steps += 1
  assert steps == 3 and info['env_steps'] == 6


def test_unknown_task_gives_clear_error():
  with pytest.raises(ValueError, match='unknown task .*cartpole'):
    envs.make_env('cartpol')
