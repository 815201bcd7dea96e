"""Model fitting between episodes (Algorithm 1's inner loop): C compiled train steps on batches from the replay's
prefetcher, with a stop on a diverging loss."""
import numpy as np
import tensorflow as tf

from planet import rollout


class TrainingDiverged(RuntimeError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""


def batch_to_device(device):
  """A function that copies a numpy batch to `device` as tensors (the values unchanged)."""
  def transform(batch):
    with tf.device(device):
      return {key: tf.identity(value) for key, value in batch.items()}
  return transform


def update(learner, prefetch, steps, seed, on_step=None):
  """`steps` compiled train steps; mean of each loss term. Raises TrainingDiverged on a NaN/inf loss."""
  outputs = []
  start = int(learner.optimizer.step)  # Read once: reading it every step would stall a GPU's queue.
  for step in range(start, start + steps):
    batch = next(prefetch)
    outputs.append(learner.train_step(batch, tf.constant(rollout.derive_seed(seed, 'update', step), tf.int32)))
    if on_step:
      on_step(step - start + 1)
  values = {key: np.array([out[key].numpy() for out in outputs]) for key in outputs[0]}
  bad = np.flatnonzero(~np.isfinite(values['loss']))
  if bad.size:
    step = start + int(bad[0]) + 1
    raise TrainingDiverged(
        f'the loss became {values["loss"][bad[0]]} at grad step {step}; stopping. The last good checkpoint '
        '(the previous episode) is kept: lower the learning rate or check the data, then rerun to resume.')
  return {key: float(value.mean()) for key, value in values.items()}
