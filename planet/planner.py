"""Latent planning with the cross entropy method (Algorithm 2, App. B) as a pure function.

`cem_plan(belief, dynamics, reward_fn, seed, ...)` reads nothing but its arguments: the model is handed in
through the state-space-model interface (`replicate`, `imagine`, `features`) and a reward function of features.
"""
import gin
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def refit(candidates, returns, top_k, std_estimator):
  """Algorithm 2, lines 7-8: mean and spread of the K best candidates [J, H, A] by return [J]."""
  _, best = tf.math.top_k(returns, top_k)
  elite = tf.gather(candidates, best)
  mean = tf.reduce_mean(elite, 0)
  if std_estimator == 'paper':
    # Algorithm 2, line 8 as printed: sigma = 1 / (K - 1) * sum_k |a_k - mu|.
    std = tf.reduce_sum(tf.abs(elite - mean), 0) / max(top_k - 1, 1)
  elif std_estimator == 'std':
    # Authors' code: sqrt(variance + 1e-6) of the elite.
    std = tf.sqrt(tf.reduce_mean(tf.square(elite - mean), 0) + 1e-6)
  else:
    raise ValueError(f"unknown std_estimator {std_estimator!r}: use 'paper' or 'std'")
  return mean, std


@gin.configurable(denylist=['belief', 'dynamics', 'reward_fn', 'action_size', 'seed'])
def cem_plan(belief, dynamics, reward_fn, action_size, seed, horizon=12, iterations=10, candidates=1000,
             top_k=100, std_estimator='std', action_low=-1.0, action_high=1.0):
  """Returns the first mean action [A] of the refined action belief for a batch-1 `belief` state."""
  top_k = min(top_k, candidates)
  seeds = tf.random.experimental.stateless_split(seed, iterations)

  def iteration(i, mean, std):
    action_seed, belief_seed, model_seed = tf.unstack(tf.random.experimental.stateless_split(seeds[i], 3))
    # Line 4: J candidate sequences from the factorized Normal belief, clipped to the action bounds.
    actions = tfd.Normal(mean, std).sample(candidates, seed=action_seed)
    actions = tf.clip_by_value(actions, action_low, action_high)
    # Lines 5-6: belief samples, open-loop priors and the sum of expected rewards over the horizon.
    start = dynamics.replicate(belief, candidates, belief_seed)
    states = dynamics.imagine(actions, start, model_seed)
    returns = tf.reduce_sum(reward_fn(dynamics.features(states)), 1)
    mean, std = refit(actions, returns, top_k, std_estimator)
    return i + 1, mean, std

  mean = tf.zeros([horizon, action_size])
  std = tf.ones([horizon, action_size])
  _, mean, _ = tf.while_loop(lambda i, *_: i < iterations, iteration, (tf.constant(0), mean, std))
  return mean[0]
