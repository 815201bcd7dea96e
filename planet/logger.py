"""Run outputs: metrics.jsonl (one JSON object per collected episode), TensorBoard scalars/images, GIFs."""
import io
import math
import os

import numpy as np
from PIL import Image

from planet import rundir


class MetricsLogger:

  def __init__(self, logdir):
    self._path = os.path.join(logdir, 'metrics.jsonl')
    self._tb_dir = os.path.join(logdir, 'tensorboard')
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
  return rundir.last_per_episode(rundir.read_jsonl(os.path.join(logdir, 'metrics.jsonl')))


def write_gif(path, frames, fps=20):
  """frames: uint8 [T, H, W, 3]; written atomically."""
  images = [Image.fromarray(np.asarray(frame)) for frame in frames]
  buffer = io.BytesIO()
  images[0].save(buffer, format='GIF', save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
  rundir.write_atomically(path, buffer.getvalue())
