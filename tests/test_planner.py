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
  from planet.models import drnn
  from planet.models import gru
  from planet.models import rssm
  from planet.models import ssm
  sizes = dict(action_size=2, embed_size=8, hidden_size=16)
  if kind == 'gru':
    return gru.GRUModel(deterministic_size=12, **sizes)
  if kind == 'ssm':
    return ssm.SSM(stochastic_size=4, **sizes)
  model = drnn.DRNN if kind == 'drnn' else rssm.RSSM
  return model(stochastic_size=4, deterministic_size=12, **sizes, **({'mean_only': True} if kind == 'rnn' else {}))


def _algorithm_2(model, belief, reward_fn, seed, horizon, iterations, candidates, top_k, discount, resample):
  """Algorithm 2 written out eagerly with the model interface's `imagine`, the same seeds and the same refit."""
  mean, std = tf.zeros([horizon, 2]), tf.ones([horizon, 2])
  for iteration_seed in tf.random.experimental.stateless_split(seed, iterations):
    action_seed, belief_seed, model_seed = tf.unstack(tf.random.experimental.stateless_split(iteration_seed, 3))
    actions = tf.clip_by_value(planner.tfd.Normal(mean, std).sample(candidates, seed=action_seed), -1, 1)
    if resample:
      start = model.replicate(belief, candidates, belief_seed)
    else:
      start = {key: tf.concat([value] * candidates, 0) for key, value in belief.items()}
    rewards = reward_fn(model.features(model.imagine(actions, start, model_seed))).numpy()
    returns = sum(discount ** k * rewards[:, k] for k in range(horizon))
    mean, std = planner.refit(actions, tf.constant(returns, tf.float32), top_k, 'std')
  return mean[0].numpy()


@pytest.mark.parametrize('kind', ['rssm', 'rnn', 'ssm', 'gru', 'drnn'])
@pytest.mark.parametrize('discount,resample', [(0.99, False), (1.0, True)], ids=['code', 'printed'])
def test_cem_plan_matches_algorithm_2_written_out(kind, discount, resample):
  # The compiled planner's first action must equal Algorithm 2 written out for every model, with the authors'
  # choices (the defaults: the belief tiled, returns discounted) and as printed (a faster planner must keep this).
  tf.random.set_seed(3)
  model = _small_model(kind)
  weights = tf.random.normal([model.feature_size])
  reward_fn = lambda features: tf.tensordot(features, weights, 1)
  sizes = dict(horizon=4, iterations=3, candidates=50, top_k=5)
  # A belief with a spread, as the filter gives, so that resampling it differs from tiling it.
  belief = tf.nest.map_structure(lambda x: x + 0.5, model.initial(1))
  seed = tf.constant([8, 9])
  hand = _algorithm_2(model, belief, reward_fn, seed, discount=discount, resample=resample, **sizes)
  plan = tf.function(lambda s: planner.cem_plan(belief, model, reward_fn, 2, s, discount=discount,
                                                resample_belief=resample, **sizes))
  np.testing.assert_allclose(plan(seed).numpy(), hand, rtol=1e-5, atol=1e-5)


class _Counter(ToyModel):
  """State: the step count x and the last action a; features [x, a]."""

  def initial(self, batch_size):
    return {'x': tf.zeros([batch_size, 1]), 'a': tf.zeros([batch_size, 1])}

  def img_step(self, prev_state, prev_action, seed):
    del seed
    return {'x': prev_state['x'] + 1.0, 'a': prev_action}

  def features(self, state):
    return tf.concat([state['x'], state['a']], -1)


def test_discount_weighs_later_rewards_by_hand():
  # Over a horizon of 2: a negative first action earns 1 at step 1, any other earns 2 at step 2. By hand, the returns
  # are 1 against 2 x discount, so the plan's first action is non-negative for discounts above 0.5 (the plain sum
  # and 0.99 alike) and negative below.
  model = _Counter(1)

  def reward_fn(features):  # [J, H, 2]
    step, first = features[..., 0], features[:, :1, 1]
    now = tf.cast(first < 0, tf.float32)
    return tf.cast(tf.equal(step, 1.0), tf.float32) * now + 2.0 * tf.cast(tf.equal(step, 2.0), tf.float32) * (1 - now)

  def plan(discount):
    fn = tf.function(lambda s: planner.cem_plan(model.initial(1), model, reward_fn, 1, s, horizon=2, iterations=4,
                                                candidates=200, top_k=20, discount=discount))
    return float(fn(tf.constant([4, 5])).numpy()[0])

  assert plan(1.0) > 0.3 and plan(0.99) > 0.3
  assert plan(0.4) < -0.3


def test_default_plan_starts_every_candidate_from_the_given_belief():
  from planet.models import rssm
  tf.random.set_seed(0)
  model = rssm.RSSM(action_size=1, embed_size=4, stochastic_size=3, deterministic_size=5, hidden_size=6)
  belief = {'mean': tf.constant([[0.5, -0.5, 1.0]]), 'std': tf.constant([[1.0, 1.0, 1.0]]),
            'stoch': tf.constant([[2.0, 2.0, 2.0]]), 'deter': tf.ones([1, 5])}
  starts = {}

  class Recording:  # The RSSM, recording the start states the planner hands to `imagine`.
    def __getattr__(self, name):
      return getattr(model, name)

    def imagine(self, action, state, seed):
      starts.setdefault('stoch', state['stoch'])
      return model.imagine(action, state, seed)

  reward_fn = lambda features: features[..., 0]
  for resample in (False, True):
    starts.clear()
    planner.cem_plan(belief, Recording(), reward_fn, 1, tf.constant([0, 1]), horizon=2, iterations=1,
                     candidates=64, top_k=4, resample_belief=resample)
    stoch = starts['stoch'].numpy()
    if resample:  # Algorithm 2 as printed: 64 draws from Normal(mean, std).
      assert stoch.std(0).min() > 0.5 and np.abs(stoch.mean(0) - [0.5, -0.5, 1.0]).max() < 0.4
    else:  # The authors' code: the belief's own sample, 64 times.
      np.testing.assert_array_equal(stoch, np.full([64, 3], 2.0, np.float32))


def test_discount_must_be_a_fraction():
  model = ToyModel(1)
  with pytest.raises(ValueError, match='discount must be in'):
    planner.cem_plan(model.initial(1), model, lambda x: x[..., 0], 1, tf.constant([0, 1]), discount=1.5)
