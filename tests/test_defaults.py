"""The defaults that produced the published numbers (authors' code where the printed paper differs), each pinned,
and the printed-paper / code-detail overlays that switch them."""
import inspect
import os

import gin
import numpy as np
import tensorflow as tf

from conftest import ROOT
from conftest import tiny_gin
from planet import agent as agent_lib
from planet import config as config_lib
from planet import optimizer
from planet import planner
from planet import tasks
from planet import world_model
from planet.experiments import true_sim_episodes


def _parse(*overlays, tiny=True):
  files = [os.path.join(ROOT, 'gin', name) for name in ('cartpole.gin',) + overlays]
  config_lib.parse(files, tiny_gin() if tiny else [])


def _batch(length=5):
  rng = np.random.RandomState(0)
  return {'image': rng.randint(0, 256, (2, length, 64, 64, 3)).astype(np.uint8),
          'action': rng.uniform(-1, 1, (2, length, 1)).astype(np.float32),
          'reward': rng.uniform(0, 1, (2, length)).astype(np.float32)}


def test_base_gin_holds_the_published_runs_defaults():
  _parse()
  assert gin.query_parameter('WorldModel.reward_scale') == 10.0
  assert gin.query_parameter('cem_plan.std_estimator') == 'std'
  assert gin.query_parameter('cem_plan.discount') == 0.99
  assert gin.query_parameter('cem_plan.resample_belief') is False
  assert gin.query_parameter('WorldModel.kl_scale') == 1.0
  assert gin.query_parameter('RandomAgent.distribution') == 'uniform'  # The code's seed actions at every commit.
  # The code defaults agree with the gin file, so library users without gin get the same agent.
  plan_defaults = inspect.signature(planner.cem_plan).parameters
  assert plan_defaults['std_estimator'].default == 'std'
  assert plan_defaults['discount'].default == 0.99 and plan_defaults['resample_belief'].default is False
  assert inspect.signature(world_model.WorldModel).parameters['reward_scale'].default == 10.0
  # The true-simulator planner (Table 1's last row) shares the refit and its default.
  assert inspect.signature(true_sim_episodes.play_episode).parameters['std_estimator'].default == 'std'


def test_printed_paper_overlays_switch_the_defaults_back():
  _parse('ablations/reward_unscaled.gin', 'ablations/cem_printed_spread.gin')
  assert gin.query_parameter('WorldModel.reward_scale') == 1.0
  assert gin.query_parameter('cem_plan.std_estimator') == 'paper'
  _parse('ablations/cem_printed_return.gin')
  assert gin.query_parameter('cem_plan.discount') == 1.0
  assert gin.query_parameter('cem_plan.resample_belief') is False
  _parse('ablations/cem_printed_belief.gin')
  assert gin.query_parameter('cem_plan.resample_belief') is True
  assert gin.query_parameter('cem_plan.discount') == 0.99
  # Algorithm 2 as printed: all three planner choices in one overlay.
  _parse('ablations/cem_printed.gin')
  assert gin.query_parameter('cem_plan.std_estimator') == 'paper'
  assert gin.query_parameter('cem_plan.discount') == 1.0
  assert gin.query_parameter('cem_plan.resample_belief') is True


def test_reward_scale_enters_the_loss():
  batch, seed = _batch(), tf.constant([0, 1])
  _parse()
  model = world_model.WorldModel(1)
  total, terms = model.loss(batch, seed)
  # By hand: image NLL + 10 x reward NLL + the KL with free nats (scale 1).
  hand = terms['image_loss'] + 10.0 * terms['reward_loss'] + terms['kl_loss']
  np.testing.assert_allclose(float(total), float(hand), rtol=1e-6)
  _parse('ablations/reward_unscaled.gin')
  unscaled = world_model.WorldModel(1)
  for a, b in zip(model.trainable_variables, unscaled.trainable_variables):
    b.assign(a)
  total_unscaled, _ = unscaled.loss(batch, seed)
  np.testing.assert_allclose(float(total - total_unscaled), 9.0 * float(terms['reward_loss']), rtol=1e-4)


def test_learning_rate_ramp_scales_the_first_update():
  def first_update(warmup):
    var = tf.Variable([0.0])
    adam = optimizer.Adam([var], learning_rate=1e-3, epsilon=1e-4, warmup_steps=warmup)
    adam.apply([tf.constant([0.5])])
    return -float(var.numpy()[0])

  # By hand, Adam's first step: m = 0.1 g, v = 0.001 g^2, lr_t = lr sqrt(0.001) / 0.1; update = lr_t m / (sqrt v + eps).
  g, lr = 0.5, 1e-3
  hand = lr * np.sqrt(0.001) / 0.1 * (0.1 * g) / (np.sqrt(0.001) * g + 1e-4)
  np.testing.assert_allclose(first_update(0), hand, rtol=1e-5)
  np.testing.assert_allclose(first_update(200), hand / 200, rtol=1e-5)
  _parse('ablations/code_lr_ramp.gin')
  assert gin.query_parameter('Adam.warmup_steps') == 200


def test_random_action_distributions():
  uniform = agent_lib.RandomAgent(3, np.random.RandomState(0))
  actions = np.stack([uniform.act(None, None, True) for _ in range(2000)])
  assert np.all(np.abs(actions) < 1) and abs(actions.std() - np.sqrt(1 / 3)) < 0.02
  _parse('ablations/clipped_normal_actions.gin')
  code = agent_lib.RandomAgent(3, np.random.RandomState(0))  # The gin binding picks the clipped normal.
  actions = np.stack([code.act(None, None, True) for _ in range(2000)])
  # clip(Normal(0, 1)): about 31.7% of the draws land exactly on the bounds.
  assert np.all(np.abs(actions) <= 1) and abs(np.mean(np.abs(actions) == 1) - 0.317) < 0.02


def test_cup_action_repeat_printed_by_default_and_the_codes_one_overlay_away():
  config_lib.parse([os.path.join(ROOT, 'gin', 'cup.gin')], tiny_gin())
  assert gin.query_parameter('make_env.action_repeat') == 4 == tasks.get('cup').action_repeat  # App. A
  config_lib.parse([os.path.join(ROOT, 'gin', name) for name in ('cup.gin', 'ablations/code_cup_repeat.gin')],
                   tiny_gin())
  assert gin.query_parameter('make_env.action_repeat') == 6  # The camera-ready code (0c6f7d3).


def test_code_reward_head_overlay():
  _parse(tiny=False)
  assert gin.query_parameter('RewardHead.units') == 200  # App. A
  _parse('ablations/code_reward_head.gin', tiny=False)
  assert gin.query_parameter('RewardHead.units') == 100
  assert gin.query_parameter('RewardHead.layers') == 2
