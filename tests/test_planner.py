"""CEM (Algorithm 2) against toy models whose best action sequence is known."""
import numpy as np
import pytest
import tensorflow as tf

from conftest import ToyModel
from planet import planner


def _plan(target, **kwargs):
  model = ToyModel(len(target))
  reward_fn = lambda x: -tf.reduce_sum(tf.square(x - target), -1)
  plan = tf.function(lambda seed: planner.cem_plan(model.initial(1), model, reward_fn, len(target), seed,
                                                   **kwargs))
  return plan(tf.constant([1, 2])).numpy()


def test_cem_finds_known_optimum():
  # Reaching the target in one step and staying there is optimal: the first action is the target itself.
  target = np.array([0.6, -0.3], np.float32)
  action = _plan(target, horizon=4, iterations=10, candidates=500, top_k=50)
  np.testing.assert_allclose(action, target, atol=0.08)


def test_cem_respects_action_bounds():
  # The optimum lies outside [-1, 1]: the best feasible first action is the bound.
  action = _plan(np.array([5.0], np.float32), horizon=2, iterations=5, candidates=200, top_k=20)
  assert -1.0 <= action[0] <= 1.0
  assert action[0] > 0.9


def test_more_iterations_refine_the_plan():
  target = np.array([0.45], np.float32)
  errors = [abs(_plan(target, horizon=3, iterations=i, candidates=100, top_k=10)[0] - 0.45) for i in (1, 8)]
  assert errors[1] < errors[0]


def test_refit_estimators_against_hand_computation():
  candidates = tf.constant([[[1.0]], [[3.0]], [[0.0]], [[2.0]]])  # J=4, H=1, A=1
  returns = tf.constant([1.0, 3.0, 0.0, 2.0])
  mean, std = planner.refit(candidates, returns, 2, 'paper')  # elite: 3 and 2
  np.testing.assert_allclose(mean.numpy(), [[2.5]])
  np.testing.assert_allclose(std.numpy(), [[(0.5 + 0.5) / (2 - 1)]])
  mean, std = planner.refit(candidates, returns, 2, 'std')
  np.testing.assert_allclose(std.numpy(), [[np.sqrt(0.25 + 1e-6)]], rtol=1e-6)


def _small_model(kind):
  from planet.models import drnn, gru, rssm, ssm
  sizes = dict(action_size=2, embed_size=8, hidden_size=16)
  if kind == 'gru':
    return gru.GRUModel(deterministic_size=12, **sizes)
  if kind == 'ssm':
    return ssm.SSM(stochastic_size=4, **sizes)
  model = drnn.DRNN if kind == 'drnn' else rssm.RSSM
  return model(stochastic_size=4, deterministic_size=12, **sizes, **({'mean_only': True} if kind == 'rnn' else {}))


@pytest.mark.parametrize('kind', ['rssm', 'rnn', 'ssm', 'gru', 'drnn'])
def test_cem_plan_matches_algorithm_2_written_out(kind):
  # Algorithm 2 written out eagerly with the model interface's `imagine`, the same seeds and the same refit: the
  # compiled planner's first action must equal it for every model (a faster planner must keep this).
  tf.random.set_seed(3)
  model = _small_model(kind)
  weights = tf.random.normal([model.feature_size])
  reward_fn = lambda features: tf.tensordot(features, weights, 1)
  horizon, iterations, candidates, top_k = 4, 3, 50, 5
  belief, seed = model.initial(1), tf.constant([8, 9])
  mean, std = tf.zeros([horizon, 2]), tf.ones([horizon, 2])
  for iteration_seed in tf.random.experimental.stateless_split(seed, iterations):
    action_seed, belief_seed, model_seed = tf.unstack(tf.random.experimental.stateless_split(iteration_seed, 3))
    actions = tf.clip_by_value(planner.tfd.Normal(mean, std).sample(candidates, seed=action_seed), -1, 1)
    states = model.imagine(actions, model.replicate(belief, candidates, belief_seed), model_seed)
    mean, std = planner.refit(actions, tf.reduce_sum(reward_fn(model.features(states)), 1), top_k, 'std')
  plan = tf.function(lambda s: planner.cem_plan(belief, model, reward_fn, 2, s, horizon=horizon,
                                                iterations=iterations, candidates=candidates, top_k=top_k))
  np.testing.assert_allclose(plan(seed).numpy(), mean[0].numpy(), rtol=1e-5, atol=1e-5)
