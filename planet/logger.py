"""Run outputs: metrics.jsonl (one JSON object per collected episode), TensorBoard scalars/images, GIFs."""
import io
import math

import numpy as np
from PIL import Image

from planet import rundir


class MetricsLogger:

  def __init__(self, logdir):
    self._path = rundir.RunDir(logdir).metrics
    self._tb_dir = rundir.RunDir(logdir).tensorboard
    self._writer = None

  def _tb(self):
    import tensorflow as tf  # Only the training process logs to TensorBoard.
    if self._writer is None:
      self._writer = tf.summary.create_file_writer(self._tb_dir)
    return self._writer, tf

  def write(self, record, step):
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
    rundir.append_jsonl(self._path, clean)
    writer, tf = self._tb()
    with writer.as_default():
      for key, value in record.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
          tf.summary.scalar(key, value, step=step)
    writer.flush()

  def image(self, name, image, step):
    writer, tf = self._tb()
    with writer.as_default():
      tf.summary.image(name, image[None], step=step)
    writer.flush()


def read_metrics(logdir):
  return rundir.last_per_episode(rundir.read_jsonl(rundir.RunDir(logdir).metrics))


def episode_times(rows):
  """Median seconds of one training episode in a run's metrics lines (metrics.jsonl): `wall` between consecutive
  lines, and its `update` and `collect` parts, over the episodes with updates; where the lines have them, also the
  collection's `act` (choosing actions) and `env` (the environment's steps) parts. Left out: the first of them (it
  compiles), and those with a test episode. The median ignores the odd slow one (a resume's compile, a checkpoint).
  """
  kept = [row | {'wall': row['wall_time'] - before['wall_time']} for before, row in zip(rows, rows[1:])
          if before.get('grad_steps') and row.get('grad_steps') and 'test_return' not in row]
  if not kept:
    raise ValueError('no training episode after the first one with updates in these metrics lines')
  names = {'wall': 'wall', 'update': 'update_time', 'collect': 'collect_time', 'act': 'act_time', 'env': 'env_time'}
  times = {name: float(np.median([row[key] for row in kept])) for name, key in names.items()
           if all(key in row for row in kept)}
  return dict(times, episodes=len(kept))


def write_gif(path, frames, fps=20):
  """frames: uint8 [T, H, W, 3]; written atomically."""
  images = [Image.fromarray(np.asarray(frame)) for frame in frames]
  buffer = io.BytesIO()
  images[0].save(buffer, format='GIF', save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
  rundir.write_atomically(path, buffer.getvalue())
