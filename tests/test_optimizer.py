"""Adam (planet/optimizer.py) against hand computations, with global-norm clipping."""
import numpy as np
import pytest
import tensorflow as tf

from planet import optimizer


def test_adam_matches_hand_computation():
  var = tf.Variable([1.0, -2.0])
  adam = optimizer.Adam([var], learning_rate=0.1, epsilon=1e-4, clip_norm=1000.0)
  grad = np.array([0.5, -4.0], np.float32)
  adam.apply([tf.constant(grad)])
  m, v = 0.1 * grad, 0.001 * grad ** 2
  lr_t = 0.1 * np.sqrt(1 - 0.999) / (1 - 0.9)
  np.testing.assert_allclose(var.numpy(), np.array([1.0, -2.0]) - lr_t * m / (np.sqrt(v) + 1e-4), rtol=1e-5)


def test_adam_clips_global_norm():
  var = tf.Variable([0.0, 0.0])
  adam = optimizer.Adam([var], clip_norm=1.0)
  norm = adam.apply([tf.constant([3.0, 4.0])])
  assert float(norm) == pytest.approx(5.0)
  np.testing.assert_allclose(adam.m[0].numpy(), 0.1 * np.array([0.6, 0.8]), rtol=1e-6)
