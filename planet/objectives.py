"""Terms of the variational bound of Eq. 3, as losses to minimise (negated, averaged over batch and time)."""
import tensorflow as tf
import tensorflow_probability as tfp

from planet.models import base

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


def overshooting_kls(dynamics, posterior, action, distance, free_nats, seed):
  """Latent overshooting (Eq. 7) for distances d = 2..D: KL(q(s_t) || p(s_t | s_{t-d})) per distance.

  The d-step priors are rolled out open loop from every posterior state with the observed actions; the
  posterior targets are under stop_gradient (Sec. 4), the free nats apply per element as for d = 1. Any chunk
  length T works: pairs with t + d >= T do not exist and are masked out (a distance with none counts 0 pairs).
  Returns ([D - 1] mean clipped KL per distance, [D - 1] number of (batch, time) pairs behind each mean).
  """
  batch, steps = tf.shape(action)[0], tf.shape(action)[1]
  flat = lambda x: tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0))
  # Index t + k for k = 0..D, clamped to the last step: the clamped entries only feed masked-out pairs.
  beyond = lambda x: tf.gather(x, tf.minimum(tf.range(steps + distance), steps - 1), axis=1)
  start = tf.nest.map_structure(flat, posterior)
  # Step k of the rollout from time t uses action a_{t+k-1}, stored at index t + k.
  padded_action = beyond(action)
  actions = tf.stack([flat(padded_action[:, k:k + steps]) for k in range(1, distance + 1)])
  seeds = tf.random.experimental.stateless_split(seed, distance)
  priors = base.scan(lambda prev, inputs: dynamics.img_step(prev, inputs[0], inputs[1]), (actions, seeds), start)
  target_pad = tf.nest.map_structure(beyond, posterior)
  means, counts = [], []
  for d in range(2, distance + 1):
    target = tf.nest.map_structure(lambda x, d=d: tf.stop_gradient(flat(x[:, d:d + steps])), target_pad)
    prior = tf.nest.map_structure(lambda x, d=d: x[d - 1], priors)
    kl = tf.maximum(tfd.kl_divergence(dynamics.distribution(target), dynamics.distribution(prior)), free_nats)
    valid = tf.cast(flat(tf.tile(tf.range(steps)[None], [batch, 1])) + d < steps, tf.float32)
    counts.append(tf.reduce_sum(valid))
    means.append(tf.reduce_sum(kl * valid) / tf.maximum(counts[-1], 1.0))
  return tf.stack(means), tf.stack(counts)


def overshooting_loss(means, counts):
  """The authors' code's overshooting term: the mean clipped KL over every existing (batch, time, d >= 2) pair."""
  return tf.reduce_sum(means * counts) / tf.maximum(tf.reduce_sum(counts), 1.0)


def global_prior_kl(distribution):
  """App. A's fixed global prior term: KL(q(s_t) || Normal(0, I)), averaged over batch and time."""
  standard = tfd.MultivariateNormalDiag(tf.zeros_like(distribution.mean()), tf.ones_like(distribution.mean()))
  return tf.reduce_mean(tfd.kl_divergence(distribution, standard))
