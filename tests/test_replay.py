"""The replay (planet/replay.py): chunk sampling bounds, damaged files, the prefetch thread."""
import os

import numpy as np
import tensorflow as tf

from conftest import tiny_gin
from planet import config as config_lib
from planet import replay as replay_lib
from planet import updates
from planet import world_model


def _episode(length, action_size=1, start=0):
  return {'image': np.full((length, 64, 64, 3), start, np.uint8),
          'action': np.zeros((length, action_size), np.float32),
          'reward': np.arange(start, start + length, dtype=np.float32)}


def test_chunk_sampling_bounds(tmp_path):
  replay = replay_lib.Replay(str(tmp_path))
  replay.add(_episode(12, start=0))
  replay.add(_episode(30, start=100))
  replay.add(_episode(5, start=200))  # Too short for L = 10: never sampled.
  batch = replay.sample(200, 10, np.random.RandomState(0))
  assert batch['image'].shape == (200, 10, 64, 64, 3) and batch['image'].dtype == np.uint8
  rewards = batch['reward']
  # Consecutive steps of one episode, fully inside it.
  np.testing.assert_array_equal(np.diff(rewards, axis=1), 1)
  starts = rewards[:, 0]
  assert set(np.unique(starts[starts < 100])) <= set(range(0, 3))
  assert set(np.unique(starts[starts >= 100])) <= set(range(100, 121))
  assert not np.any(starts >= 200)
  # Uniform over episodes first: both usable episodes about equally often despite different lengths.
  assert 60 < np.sum(starts < 100) < 140
  assert replay.num_steps == 11 + 29 + 4


def test_replay_survives_partial_file_and_resumes_indices(tmp_path):
  replay = replay_lib.Replay(str(tmp_path))
  replay.add(_episode(12))
  path = replay.add(_episode(12))
  with open(path, 'r+b') as f:  # Truncate as a crash mid-write of a non-atomic writer would.
    f.truncate(100)
  with open(os.path.join(tmp_path, '.abc.tmp'), 'wb') as f:
    f.write(b'partial')
  reloaded = replay_lib.Replay(str(tmp_path))
  assert reloaded.num_episodes == 1
  assert reloaded.next_index == 2  # Never overwrites an existing file name.


def test_prefetcher_yields_batches(tmp_path):
  replay = replay_lib.Replay(str(tmp_path))
  replay.add(_episode(20))
  prefetch = replay_lib.Prefetcher(replay, 3, 5, seed=0)
  try:
    assert next(prefetch)['image'].shape == (3, 5, 64, 64, 3)
  finally:
    prefetch.close()


def test_batches_prefetched_to_a_device_train_the_same(tmp_path):
  # train.prefetch_device: the prefetch thread copies each batch to the device (here the CPU: the test machines have
  # no GPU); the updates see the same values, so the losses are the same bit for bit.
  replay = replay_lib.Replay(str(tmp_path))
  for i in range(2):
    replay.add(_episode(20 + i))
  config_lib.parse([], tiny_gin())
  losses = {}
  for device in (None, '/CPU:0'):
    tf.random.set_seed(0)
    learner = world_model.Learner(world_model.WorldModel(1), batch_size=2, length=5)
    prefetch = replay_lib.Prefetcher(replay, 2, 5, seed=3,
                                     transform=updates.batch_to_device(device) if device else None)
    try:
      losses[device] = updates.update(learner, prefetch, 3, seed=0)
    finally:
      prefetch.close()
  assert losses[None] == losses['/CPU:0']
  prefetch = replay_lib.Prefetcher(replay, 2, 5, seed=3, transform=updates.batch_to_device('/CPU:0'))
  try:
    batch = next(prefetch)
  finally:
    prefetch.close()
  assert isinstance(batch['image'], tf.Tensor) and batch['image'].device.endswith('CPU:0')
  assert batch['image'].dtype == tf.uint8 and batch['image'].shape == (2, 5, 64, 64, 3)
