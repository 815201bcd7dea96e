"""Run outputs: metrics.jsonl (one JSON object per collected episode), TensorBoard scalars/images, GIFs, and the
progress bar of a training run."""
import io
import math

import numpy as np
import tqdm
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


PHASE_TIMES = ('update_time', 'collect_time', 'test_time')  # Seconds each phase took, in a metrics line.


class EpisodeProgress:
  """A training run's progress bar: episodes done of `total`, the update under way, the last returns and loss, and
  the time left at the pace of the last planned episodes (tqdm's own estimate would average in the quick random
  seed episodes). `enabled=False` shows nothing."""

  def __init__(self, name, total, done, enabled, tasks=1):
    self.total, self.tasks, self.enabled = total, tasks, enabled
    self.planned_seconds = []
    self.bar = tqdm.tqdm(total=total, initial=done, disable=not enabled, desc=f'{name} episodes', dynamic_ncols=True,
                         bar_format='{desc}: {n_fmt}/{total_fmt} |{bar}| {elapsed}{postfix}')

  def on_update(self, steps):
    """A callback for the k-th of `steps` updates, or None when nothing is shown."""
    if not self.enabled:
      return None
    return lambda k: self.bar.set_postfix_str(f'update {k}/{steps}', refresh=True)

  def episode_done(self, record, done, planned):
    """One more episode, whose metrics are `record`, `done` episodes in all; a `planned` one (not random) also
    sets the pace of the time left."""
    if planned:
      self.planned_seconds.append(sum(record.get(key, 0.0) for key in PHASE_TIMES))
    self.bar.update(1)
    shown = {k: f'{v:.3g}' for k, v in record.items() if k in ('train_return', 'test_return', 'loss')}
    if self.planned_seconds:
      left = np.mean(self.planned_seconds[-10 * self.tasks:]) * (self.total - done)
      shown['left'] = f'~{int(left // 3600)}h{int(left % 3600 // 60):02d}m'
    self.bar.set_postfix(shown)

  def close(self):
    self.bar.close()
