"""Terms of the variational bound of Eq. 3, as losses to minimise (negated, averaged over batch and time)."""
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def kl_with_free_nats(posterior, prior, free_nats):
  """KL(q || p) summed over latent dims, clipped below `free_nats` per (batch, time) element, then averaged.

  This is the authors' placement of the free nats (App. A: "clipping the divergence loss below this value").
  Returns (loss, mean unclipped KL).
  """
  divergence = tfd.kl_divergence(posterior, prior)
  return tf.reduce_mean(tf.maximum(divergence, free_nats)), tf.reduce_mean(divergence)


def negative_log_likelihood(distribution, target):
  """-E[ln p(target)], averaged over batch and time; summed over event dims by the distribution."""
  return -tf.reduce_mean(distribution.log_prob(target))
