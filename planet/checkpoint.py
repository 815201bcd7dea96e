"""A run's checkpoints (model and optimizer), kept so that a damaged one never stops a run: the two newest are
kept, a resume restores the newest one that reads whole, and only a checkpoint that reads but does not fit the model
blames the configuration.

TensorFlow's CheckpointManager writes a checkpoint's files first and then points its state file at them with an
atomic rename, so a save cut short (a kill, a full disk) never becomes the newest; what this module adds is the
resume's fallback when a finished checkpoint is damaged afterwards (a bad copy, a truncated file).
"""
import logging
import os
import re

import tensorflow as tf

from planet import rundir

KEEP = 2  # Checkpoints kept: the newest and one to fall back to.


_INDEX = re.compile(r'^ckpt-(\d+)\.index$')


def manager(checkpoint, logdir):
  """The run's CheckpointManager. A state file that cannot be parsed is moved aside (one warning line): `restore`
  finds the checkpoints from their own files."""
  directory = rundir.RunDir(logdir).checkpoints
  try:
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=KEEP)
  except ValueError as e:  # TensorFlow refuses an empty or broken state file.
    state = os.path.join(directory, 'checkpoint')
    logging.warning('checkpoint state %s cannot be read (%s); moved aside as checkpoint.damaged', state,
                    _first_line(e))
    os.replace(state, state + '.damaged')
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=KEEP)


def on_disk(directory):
  """The checkpoints whose index file is in `directory` (prefixes), oldest first."""
  found = [(int(m.group(1)), name[:-len('.index')]) for name in (os.listdir(directory) if os.path.isdir(directory)
                                                                   else []) for m in [_INDEX.match(name)] if m]
  return [os.path.join(directory, prefix) for _, prefix in sorted(found)]


def _first_line(error):
  """An error's first line without TensorFlow's op decorations: '{{function_node ...}} <path>; <reason> [Op:X]'
  reads '<reason>: <path>'."""
  text = (str(getattr(error, 'message', None) or error).strip().splitlines() or [type(error).__name__])[0]
  text = re.sub(r'\s*\[Op:\w+\]$', '', re.sub(r'^\{\{.*?\}\}\s*', '', text))
  path, _, reason = text.rpartition('; ')
  return (f'{reason}: {path}' if path else reason)[:300]


def read_whole(path):
  """Reads every tensor of the checkpoint at `path` (tf.errors.OpError where a file is missing, cut short or
  corrupt), so that damage shows before any variable is touched."""
  reader = tf.train.load_checkpoint(path)
  for name in reader.get_variable_to_shape_map():
    reader.get_tensor(name)


def restore(checkpoint, checkpoints, logdir):
  """Restores `checkpoint` from the newest readable checkpoint of `checkpoints` (its manager), warning in one line
  about each damaged one skipped; returns its path, or None for a new run. RunDirError when a readable checkpoint
  does not fit the model (the configuration changed) or when none can be read."""
  # Newest first: those the state file lists, and any whose files are there without it (a state file that TensorFlow
  # ignored as unreadable would otherwise start a new model over the episodes on disk).
  number = lambda path: int(path.rsplit('-', 1)[1])
  paths = sorted(set(checkpoints.checkpoints) | set(on_disk(checkpoints.directory)), key=number, reverse=True)
  damaged = []
  for path in paths:
    try:
      read_whole(path)
    except (tf.errors.OpError, ValueError) as e:
      damaged.append(f'{os.path.basename(path)}: {_first_line(e)}')
      logging.warning('checkpoint %s cannot be read (%s); trying the one before it', path, _first_line(e))
      continue
    try:
      checkpoint.restore(path).assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as e:
      raise rundir.RunDirError(
          f'cannot resume {logdir}: its checkpoint {os.path.basename(path)} does not fit this model '
          f'({_first_line(e)}); resume it with its original settings, or give this run another --logdir') from e
    if damaged:
      logging.warning('resumed from %s, the newest readable checkpoint; the episodes on disk stay', path)
    return path
  if damaged:
    raise rundir.RunDirError(
        f'cannot resume {logdir}: no checkpoint can be read ({"; ".join(damaged)}); move '
        f'{rundir.RunDir(logdir).checkpoints} aside to train a new model on the episodes on disk')
  return None


def save(checkpoints, number):
  """Saves checkpoint `number`; a full disk or another OS error becomes StorageError naming the path."""
  try:
    return checkpoints.save(checkpoint_number=number)
  except (OSError, tf.errors.OpError) as e:
    raise rundir.StorageError(f'cannot write the checkpoint in {checkpoints.directory} ({_first_line(e)})') from e
