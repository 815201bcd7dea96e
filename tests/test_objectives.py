"""The bound's terms (planet/objectives.py): KL with free nats against a hand computation."""
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from planet import objectives

tfd = tfp.distributions


def test_kl_free_nats_against_hand_computation():
  # KL(N(m, s) || N(0, 1)) per dim = 0.5 (s^2 + m^2 - 1) - ln s; summed over dims, clipped per element.
  post = tfd.MultivariateNormalDiag([[[1.0, 0.0]], [[3.0, 0.0]]], [[[1.0, 1.0]], [[1.0, 1.0]]])
  prior = tfd.MultivariateNormalDiag(tf.zeros([2, 1, 2]), tf.ones([2, 1, 2]))
  loss, kl = objectives.kl_with_free_nats(post, prior, 3.0)
  # Element KLs: 0.5 and 4.5 -> clipped 3 and 4.5 -> mean 3.75 (clamping after the mean would give 3.0).
  np.testing.assert_allclose(kl.numpy(), 2.5, rtol=1e-6)
  np.testing.assert_allclose(loss.numpy(), 3.75, rtol=1e-6)
