"""Model fitting between episodes (planet/updates.py): C train steps, each term's mean, a stop at a diverging loss."""
import numpy as np
import pytest
import tensorflow as tf

from planet import updates


class _Learner:
  """Stands in for world_model.Learner: its optimizer's step count and a train step that returns given losses."""

  def __init__(self, losses, start=10):
    self.optimizer = type('Optimizer', (), {'step': tf.Variable(start)})()
    self.losses, self.seen = list(losses), []

  def train_step(self, batch, seed):
    self.seen.append((batch, tuple(seed.numpy())))
    loss = self.losses.pop(0)
    return {'loss': tf.constant(loss), 'kl': tf.constant(2 * loss)}


def test_update_returns_each_terms_mean_over_the_steps():
  learner = _Learner([1.0, 2.0, 6.0])
  steps_seen = []
  terms = updates.update(learner, iter(['a', 'b', 'c']), 3, seed=0, on_step=steps_seen.append)
  assert terms == {'loss': 3.0, 'kl': 6.0}
  assert [batch for batch, _ in learner.seen] == ['a', 'b', 'c'] and steps_seen == [1, 2, 3]
  assert len({seed for _, seed in learner.seen}) == 3  # A fresh seed per grad step, derived from its number.


def test_a_diverging_loss_names_the_grad_step_where_it_went_bad():
  with pytest.raises(updates.TrainingDiverged, match=r'the loss became nan at grad step 12; stopping'):
    updates.update(_Learner([1.0, np.nan, np.inf]), iter('abc'), 3, seed=0)  # Steps 11, 12, 13 from step 10.


def test_batches_reach_the_device_unchanged():
  batch = {'image': np.arange(6, dtype=np.uint8).reshape(1, 2, 3), 'reward': np.ones((1, 2), np.float32)}
  moved = updates.batch_to_device('/CPU:0')(batch)
  assert all(np.array_equal(moved[key].numpy(), value) and moved[key].dtype == value.dtype
             for key, value in batch.items())
