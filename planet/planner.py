"""Latent planning with the cross entropy method (Algorithm 2, App. B) as a pure function.

`cem_plan(belief, dynamics, reward_fn, seed, ...)` reads nothing but its arguments: the model is handed in
through the state-space-model interface (`replicate`, `imagine`, `features`) and a reward function of features.

Two choices follow the authors' code, which made the published numbers, where Algorithm 2 as printed differs
(faithfulness rule 3; the printed versions are gin overlays): every candidate starts from the filter's one posterior
sample, tiled (`resample_belief=False`; line 5 as printed draws a belief sample per candidate), and a candidate's
return discounts its predicted rewards by 0.99 per step (`discount`; line 6 as printed sums them).
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


@gin.configurable(denylist=['belief', 'dynamics', 'reward_fn', 'action_size', 'seed', 'details'])
def cem_plan(belief, dynamics, reward_fn, action_size, seed, horizon=12, iterations=10, candidates=1000,
             top_k=100, std_estimator='std', discount=0.99, resample_belief=False, action_low=-1.0, action_high=1.0,
             details=False):
  """Returns the first mean action [A] of the refined action belief for a batch-1 `belief` state.

  A candidate's return is sum_k discount^k E[r_{t+k+1}] over the horizon (1.0: Algorithm 2, line 6 as printed).
  `resample_belief`: each candidate starts from its own sample of the belief (`dynamics.replicate`, Algorithm 2,
  line 5 as printed) instead of the belief state as given, the filter's one sample, tiled (the authors' code).
  `details`: a dict instead, for diagnostics: the action, the refined `mean` and `std` [H, A], and the returns the
  model predicted for the last iteration's K best candidates (`elite_returns` [K], best first).
  """
  if not 0.0 < discount <= 1.0:
    raise ValueError(f'cem_plan.discount must be in (0, 1] (1.0: the undiscounted sum of Algorithm 2), got {discount}')
  top_k = min(top_k, candidates)
  seeds = tf.random.experimental.stateless_split(seed, iterations)
  weights = discount ** tf.range(horizon, dtype=tf.float32)  # [H]: 1, discount, discount^2, ...
  tiled = tf.nest.map_structure(lambda x: tf.repeat(x, candidates, axis=0), belief)

  def iteration(i, mean, std, elite_returns):
    action_seed, belief_seed, model_seed = tf.unstack(tf.random.experimental.stateless_split(seeds[i], 3))
    # Line 4: J candidate sequences from the factorized Normal belief, clipped to the action bounds.
    actions = tfd.Normal(mean, std).sample(candidates, seed=action_seed)
    actions = tf.clip_by_value(actions, action_low, action_high)
    # Lines 5-6: the start states, open-loop priors and the (discounted) sum of expected rewards over the horizon.
    start = dynamics.replicate(belief, candidates, belief_seed) if resample_belief else tiled
    states = dynamics.imagine(actions, start, model_seed)
    returns = tf.reduce_sum(reward_fn(dynamics.features(states)) * weights, 1)
    mean, std = refit(actions, returns, top_k, std_estimator)
    if details:  # Only then: the plan call itself stays as it was.
      elite_returns = tf.math.top_k(returns, top_k).values
    return i + 1, mean, std, elite_returns

  start = (tf.constant(0), tf.zeros([horizon, action_size]), tf.ones([horizon, action_size]), tf.zeros([top_k]))
  _, mean, std, elite_returns = tf.while_loop(lambda i, *_: i < iterations, iteration, start)
  if details:
    return {'action': mean[0], 'mean': mean, 'std': std, 'elite_returns': elite_returns}
  return mean[0]
