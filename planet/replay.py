"""Episodes on disk, one compressed .npz file each, and uniform chunk sampling (Algorithm 1, line 5).

An episode is a dict of arrays with a leading time axis of T + 1 steps: step 0 holds the reset observation with
a zero action and zero reward; step t holds observation o_t, the action a_{t-1} that led to it and the reward
r_{t-1} received for it. Images stay uint8 in memory: the buffer never holds float copies.
"""
import io
import logging
import os
import queue
import threading

import numpy as np

from planet import rundir

_NAME = rundir.EPISODE_FILE


def save_episode(directory, index, episode):
  """Writes `episode` atomically (temporary name, then rename); returns the path."""
  length = len(episode['reward'])
  buffer = io.BytesIO()
  np.savez_compressed(buffer, **episode)
  return rundir.write_atomically(os.path.join(directory, f'{index:06d}-{length}.npz'), buffer.getvalue())


def load_episode(path):
  """The episode at `path`, or None (with a warning) when the file is partial or corrupt."""
  try:
    with np.load(path) as data:
      episode = {key: data[key] for key in data.files}
    lengths = {len(value) for value in episode.values()}
    if len(lengths) != 1 or 'reward' not in episode:
      raise ValueError(f'inconsistent keys/lengths {sorted(lengths)}')
    return episode
  except Exception as e:  # pylint: disable=broad-except
    logging.warning('skipping unreadable episode file %s (%s: %s)', path, type(e).__name__, e)
    return None


list_episodes = rundir.list_episodes  # Episode files are part of the run directory's layout.


class Replay:
  """All episodes of one directory in memory (uint8 images), with uniform chunk sampling."""

  def __init__(self, directory):
    self.directory = directory
    self._episodes = []
    self._lock = threading.Lock()
    self.next_index = 0
    for path in list_episodes(directory):
      episode = load_episode(path)
      self.next_index = max(self.next_index, int(_NAME.match(os.path.basename(path)).group(1)) + 1)
      if episode is not None:
        self._episodes.append(episode)

  def add(self, episode):
    path = save_episode(self.directory, self.next_index, episode)
    self.next_index += 1
    with self._lock:
      self._episodes.append(episode)
    return path

  @property
  def num_episodes(self):
    return len(self._episodes)

  @property
  def num_steps(self):
    """Transitions stored (each episode's T + 1 steps minus the reset step)."""
    return sum(len(episode['reward']) - 1 for episode in self._episodes)

  def episodes(self):
    with self._lock:
      return list(self._episodes)

  def sample(self, batch_size, length, rng, keys=('image', 'action', 'reward')):
    """B chunks of L consecutive steps: a uniform episode, then a uniform start inside it."""
    with self._lock:
      candidates = [episode for episode in self._episodes if len(episode['reward']) >= length]
    if not candidates:
      raise ValueError(f'no stored episode has {length} steps to sample a chunk from')
    chunks = {key: [] for key in keys}
    for index in rng.randint(0, len(candidates), batch_size):
      episode = candidates[index]
      start = rng.randint(0, len(episode['reward']) - length + 1)
      for key in keys:
        chunks[key].append(episode[key][start:start + length])
    return {key: np.stack(value) for key, value in chunks.items()}


class Prefetcher:
  """Samples batches on a background thread so that the train step never waits for numpy. `transform`, if given,
  runs on that thread too, on each batch (e.g. the copy to a GPU: updates.batch_to_device)."""

  def __init__(self, replay, batch_size, length, seed, depth=2, transform=None):
    self._replay = replay
    self._transform = transform
    self._args = (batch_size, length)
    self._rng = np.random.RandomState(seed)
    self._queue = queue.Queue(depth)
    self._stop = threading.Event()
    self._error = None
    self._thread = threading.Thread(target=self._run, daemon=True)
    self._thread.start()

  def _run(self):
    try:
      while not self._stop.is_set():
        batch = self._replay.sample(*self._args, self._rng)
        if self._transform is not None:
          batch = self._transform(batch)
        while not self._stop.is_set():
          try:
            self._queue.put(batch, timeout=0.1)
            break
          except queue.Full:
            pass
    except Exception as e:  # pylint: disable=broad-except
      self._error = e

  def __next__(self):
    while True:
      if self._error is not None:
        raise self._error
      try:
        return self._queue.get(timeout=0.5)
      except queue.Empty:
        continue

  def close(self):
    self._stop.set()
    self._thread.join(timeout=5)
