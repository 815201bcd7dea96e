"""Model and agent variants of Figs. 4-9: each overlay changes what it claims to change."""
import glob
import os

import gin
import numpy as np
import pytest
import tensorflow as tf

from conftest import ROOT
from conftest import ToyModel
from conftest import fake_run_gin
from conftest import tiny_gin
from planet import agent as agent_lib
from planet import config as config_lib
from planet import gin_text
from planet import objectives
from planet import planner
from planet import training
from planet import world_model
from planet.models import drnn
from planet.models import gru
from planet.models import ssm


def _batch(batch=2, length=6, action=1, seed=0):
  rng = np.random.RandomState(seed)
  return {'image': rng.randint(0, 256, (batch, length, 64, 64, 3)).astype(np.uint8),
          'action': rng.uniform(-1, 1, (batch, length, action)).astype(np.float32),
          'reward': rng.uniform(0, 1, (batch, length)).astype(np.float32)}


def _model(overlays=(), extra=()):
  config_lib.parse([os.path.join(ROOT, path) for path in overlays], tiny_gin(extra))
  return world_model.WorldModel(1)


def test_rnn_variant_is_the_mean_only_rssm_without_kl():
  model = _model(['gin/ablations/gru.gin'])
  assert type(model.dynamics).__name__ == 'RSSM' and model.dynamics.mean_only
  batch, seed = _batch(), tf.constant([0, 1])
  total, terms = model.loss(batch, seed)
  # Divergence scale 0: the bound is the two likelihood terms only (reward weighed by 10).
  np.testing.assert_allclose(float(total), float(terms['image_loss'] + 10 * terms['reward_loss']), rtol=1e-6)
  # The state is the predicted mean everywhere: filtering, imagination and the planner's belief replicas.
  dynamics = model.dynamics
  post, prior = dynamics.observe(tf.random.normal([2, 4, model.encoder.embed_size]), tf.zeros([2, 4, 1]),
                                 dynamics.initial(2), tf.constant([0, 1]))
  for state in (post, prior):
    np.testing.assert_array_equal(state['stoch'].numpy(), state['mean'].numpy())
  actions = tf.random.normal([3, 5, 1])
  a = dynamics.imagine(actions, dynamics.replicate(dynamics.initial(1), 3, tf.constant([0, 1])), tf.constant([0, 1]))
  b = dynamics.imagine(actions, dynamics.replicate(dynamics.initial(1), 3, tf.constant([5, 6])), tf.constant([7, 8]))
  np.testing.assert_array_equal(a['stoch'].numpy(), b['stoch'].numpy())  # No randomness at all.


def test_plain_gru_model_is_deterministic_without_kl():
  model = _model(['gin/ablations/gru_plain.gin'])
  assert isinstance(model.dynamics, gru.GRUModel)
  _, terms = model.loss(_batch(), tf.constant([0, 1]))
  assert 'kl' not in terms and 'kl_loss' not in terms
  state = model.dynamics.initial(3)
  actions = tf.random.normal([3, 5, 1])
  a = model.dynamics.imagine(actions, state, tf.constant([0, 1]))
  b = model.dynamics.imagine(actions, state, tf.constant([7, 8]))
  np.testing.assert_array_equal(a['deter'].numpy(), b['deter'].numpy())  # No randomness at all.
  assert set(a) == {'deter'}


def test_ssm_has_no_deterministic_state():
  model = _model(['gin/ablations/ssm.gin'])
  assert isinstance(model.dynamics, ssm.SSM)
  state = model.dynamics.initial(2)
  assert set(state) == {'mean', 'std', 'stoch'}
  assert model.dynamics.features(state).shape == (2, 4)
  _, terms = model.loss(_batch(), tf.constant([0, 1]))
  assert np.isfinite(float(terms['kl']))


def test_drnn_features_are_the_decoder_state():
  model = _model(['gin/ablations/drnn.gin'])
  assert isinstance(model.dynamics, drnn.DRNN)
  post, prior = model.dynamics.observe(tf.random.normal([2, 4, model.encoder.embed_size]),
                                       tf.zeros([2, 4, 1]), model.dynamics.initial(2), tf.constant([0, 1]))
  np.testing.assert_array_equal(model.dynamics.features(post).numpy(), post['decoder'].numpy())
  assert not np.allclose(post['mean'].numpy(), prior['mean'].numpy())  # The prior sees a zero embedding.


def test_elu_changes_the_activations():
  relu = _model()
  elu = _model(['gin/ablations/elu.gin'])
  x = tf.constant([[-1.0] * (4 + 1)])
  assert relu.dynamics.prior_in.activation is tf.nn.relu
  assert elu.dynamics.prior_in.activation is tf.nn.elu
  assert float(tf.reduce_min(elu.dynamics.prior_in(x))) < 0 <= float(tf.reduce_min(relu.dynamics.prior_in(x)))


def test_overshooting_with_distance_one_is_the_standard_elbo():
  batch, seed = _batch(), tf.constant([0, 1])
  standard = _model()
  total, _ = standard.loss(batch, seed)
  one = _model(extra=['WorldModel.overshooting = 1'])
  for a, b in zip(standard.trainable_variables, one.trainable_variables):
    b.assign(a)
  total_one, terms = one.loss(batch, seed)
  assert 'overshooting_loss' not in terms
  np.testing.assert_allclose(total_one.numpy(), total.numpy(), rtol=1e-6)


def test_overshooting_adds_multi_step_terms_with_stopped_posterior_gradients():
  model = _model(extra=['WorldModel.overshooting = 3', 'WorldModel.free_nats = 0.0'])
  dynamics = model.dynamics
  embed = tf.random.normal([2, 6, model.encoder.embed_size])
  action = tf.random.normal([2, 6, 1])
  post, _ = dynamics.observe(embed, action, dynamics.initial(2), tf.constant([0, 1]))
  with tf.GradientTape(persistent=True) as tape:
    tape.watch([post['mean'], post['std']])
    extra, counts = objectives.overshooting_kls(dynamics, post, action, 3, 0.0, tf.constant([0, 2]))
    total = tf.reduce_sum(extra)
  assert extra.shape == (2,) and bool(tf.reduce_all(extra > 0))
  np.testing.assert_array_equal(counts.numpy(), [2 * 4, 2 * 3])  # Pairs with t + d < T = 6, for d = 2, 3.
  # The posterior mean/std only enter as KL targets: their gradient is stopped. Priors do get gradients.
  assert tape.gradient(total, post['mean']) is None and tape.gradient(total, post['std']) is None
  grads = tape.gradient(total, dynamics.prior_out.trainable_variables)
  assert all(g is not None and float(tf.reduce_sum(tf.abs(g))) > 0 for g in grads)
  # The d = 2 term against a hand-rolled two-step prediction: from the posterior at (b, t) with actions stored at
  # t + 1 and t + 2, compared with the posterior at t + 2, for every t with t + 2 < T.
  batch, steps = 2, 6
  starts = [(b, t) for b in range(batch) for t in range(steps)]
  take = lambda tree, pairs: tf.nest.map_structure(lambda x: tf.stack([x[b, t] for b, t in pairs]), tree)
  pad = lambda b, t: (b, min(t, steps - 1))
  seeds = tf.random.experimental.stateless_split(tf.constant([0, 2]), 2)
  one = dynamics.img_step(take(post, starts), tf.stack([action[pad(b, t + 1)] for b, t in starts]), seeds[0])
  two = dynamics.img_step(one, tf.stack([action[pad(b, t + 2)] for b, t in starts]), seeds[1])
  valid = [i for i, (b, t) in enumerate(starts) if t + 2 < steps]
  target = dynamics.distribution(take(post, [(b, t + 2) for b, t in np.array(starts)[valid]]))
  prior = dynamics.distribution(tf.nest.map_structure(lambda x: tf.gather(x, valid), two))
  hand = float(tf.reduce_mean(objectives.tfd.kl_divergence(target, prior)))
  flat, _ = objectives.overshooting_kls(dynamics, post, action, 2, 0.0, tf.constant([0, 2]))
  np.testing.assert_allclose(float(flat[0]), hand, rtol=1e-5)


def test_overshooting_weighs_the_one_step_kl_at_one_plus_beta_times_the_mean_of_the_rest():
  batch, seed = _batch(length=6), tf.constant([0, 1])
  model = _model(extra=['WorldModel.overshooting = 4', 'WorldModel.overshooting_scale = 0.5'])
  total, terms = model.loss(batch, seed)
  # The same posterior as inside the loss: the model's own seeds, split the way loss() splits them.
  noise_seed, model_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
  embed = model.encoder(model.preprocess(batch['image'], noise_seed))
  post, _ = model.dynamics.observe(embed, batch['action'], model.dynamics.initial(2), model_seed)
  means, counts = objectives.overshooting_kls(model.dynamics, post, batch['action'], 4, 3.0,
                                              tf.random.experimental.stateless_split(seed, 3)[2])
  # By hand: pairs per distance d = 2, 3, 4 with T = 6, B = 2 are 8, 6, 4; the mean over all 18 pairs.
  np.testing.assert_array_equal(counts.numpy(), [8, 6, 4])
  pooled = (8 * means[0] + 6 * means[1] + 4 * means[2]) / 18
  np.testing.assert_allclose(float(terms['overshooting_loss']), float(pooled), rtol=1e-6)
  hand = terms['image_loss'] + 10 * terms['reward_loss'] + 1.0 * terms['kl_loss'] + 0.5 * pooled
  np.testing.assert_allclose(float(total), float(hand), rtol=1e-6)


def test_overshooting_overlay_trains_on_chunks_shorter_than_the_distance():
  config_lib.parse([os.path.join(ROOT, 'gin/ablations/overshooting.gin')], tiny_gin())
  assert gin.query_parameter('WorldModel.overshooting') == 12
  model = world_model.WorldModel(1)
  learner = world_model.Learner(model, 2, 8)
  terms = learner.train_step(_batch(length=8), tf.constant([0, 1]))  # Chunk length 8 < D = 12.
  assert np.isfinite(float(terms['loss'])) and float(terms['overshooting_loss']) > 0


def test_global_prior_term_is_added():
  batch, seed = _batch(), tf.constant([0, 1])
  plain = _model()
  total, terms = plain.loss(batch, seed)
  prior = _model(['gin/ablations/global_prior.gin'])
  for a, b in zip(plain.trainable_variables, prior.trainable_variables):
    b.assign(a)
  total_prior, prior_terms = prior.loss(batch, seed)
  assert 'global_prior_loss' not in terms and float(prior_terms['global_prior_loss']) > 0
  np.testing.assert_allclose(total_prior.numpy(), total.numpy() + 0.1 * prior_terms['global_prior_loss'].numpy(),
                             rtol=1e-5)


def test_random_shooting_runs_exactly_one_iteration_and_takes_the_best():
  config_lib.parse([os.path.join(ROOT, 'gin/ablations/random_shooting.gin')], [])
  calls = tf.Variable(0)
  model = ToyModel(1)

  def reward_fn(x):
    calls.assign_add(1)
    return -tf.reduce_sum(tf.square(x - 0.3), -1)

  plan = tf.function(lambda seed: planner.cem_plan(model.initial(1), model, reward_fn, 1, seed, horizon=1,
                                                   candidates=1000))
  action = plan(tf.constant([0, 1])).numpy()
  assert int(calls.numpy()) == 1
  assert abs(action[0] - 0.3) < 0.01  # The best of 1000 uniform-ish draws lands very near the optimum.
  assert gin.query_parameter('cem_plan.top_k') == 1


def test_random_collection_never_plans_during_collection(tmp_path, monkeypatch):
  explore_calls = []
  original = agent_lib.Agent.act

  def spy(self, observation, seed, explore):
    explore_calls.append(explore)
    return original(self, observation, seed, explore)

  monkeypatch.setattr(agent_lib.Agent, 'act', spy)
  config_lib.parse([os.path.join(ROOT, 'gin/ablations/random_collection.gin')],
                   fake_run_gin(_FAKE + ['train.total_episodes = 4']))
  assert gin.query_parameter('train.random_collection') is True
  records = training.train(str(tmp_path), progress=False)
  assert records[-1]['grad_steps'] == 6  # The model is trained as usual ...
  assert explore_calls and not any(explore_calls)  # ... and the planner only acts in test episodes.


_FAKE = ['train.video_every = 0']


# Overlays that only change a value (each pinned in tests/test_defaults.py) run together, in one training run.
_VALUE_OVERLAYS = ['cem_printed.gin', 'cem_printed_belief.gin', 'cem_printed_return.gin', 'cem_printed_spread.gin',
                   'reward_unscaled.gin', 'clipped_normal_actions.gin', 'code_reward_head.gin', 'code_lr_ramp.gin']


# Task-specific overlays (pinned in tests/test_defaults.py), which the fake env's short episodes cannot take.
_TASK_OVERLAYS = ['code_cup_repeat.gin']


@pytest.mark.parametrize('overlays', [[os.path.basename(path)] for path in sorted(
    glob.glob(os.path.join(ROOT, 'gin', 'ablations', '*.gin')))
                                      if os.path.basename(path) not in _VALUE_OVERLAYS + _TASK_OVERLAYS]
                         + [_VALUE_OVERLAYS], ids=lambda overlays: '+'.join(overlays))
def test_every_overlay_runs_on_the_fake_env(tmp_path, overlays):
  files = [os.path.join(ROOT, 'gin/base.gin')] + [os.path.join(ROOT, 'gin', 'ablations', o) for o in overlays]
  config_lib.parse(files, fake_run_gin(_FAKE + ['train.total_episodes = 3', 'WorldModel.overshooting = 2'
                                                if 'overshooting.gin' in overlays else 'train.seed = 0']))
  records = training.train(str(tmp_path), progress=False)
  assert [r['episodes'] for r in records] == [1, 2, 3] and np.isfinite(records[-1]['loss'])


def test_variant_run_directories_are_named_after_the_overlay():
  config_lib.parse(['gin/cheetah.gin', 'gin/ablations/ssm.gin'], [])
  assert config_lib.default_logdir(['gin/cheetah.gin', 'gin/ablations/ssm.gin']) == os.path.join(
      'logs', 'cheetah', 'ssm', 'seed0')


def test_execution_only_bindings_keep_the_run_directory():
  # XLA, unrolled time loops, batches prefetched to a device and the decoder's transposed convolutions as TensorFlow's
  # own change how a run executes, not what it computes: same directory, so a CPU run can resume on a GPU with them;
  # a binding that changes the experiment names it.
  gin_files = ['gin/cheetah.gin', 'gin/gpu.gin']
  for binding in ('time_loop.unroll = True', 'train_step/time_loop.unroll = True', 'act/time_loop.unroll = True',
                  "train.prefetch_device = '/GPU:0'", 'transposed_convs.rewrite = False'):
    config_lib.parse(gin_files, [binding])
    assert config_lib.default_logdir(gin_files, [binding.replace(' ', '')]) == os.path.join(
        'logs', 'cheetah', 'planet', 'seed0')
  config_lib.parse(gin_files, ['cem_plan.horizon = 8'])
  assert config_lib.default_logdir(gin_files, ['cem_plan.horizon=8']) == os.path.join(
      'logs', 'cheetah', 'planet+cem_plan.horizon=8', 'seed0')


def test_overlays_are_read_with_the_files_they_include(tmp_path):
  # Run directories are named from what an overlay binds with its includes (gin reads those first): an overlay that
  # only includes gin/gpu.gin executes differently, one that includes an ablation is another experiment even if its
  # own lines are execution-only; an include cycle is one line.
  mine_gpu, mine_ssm = tmp_path / 'mine_gpu.gin', tmp_path / 'mine_ssm.gin'
  mine_gpu.write_text("include 'gin/gpu.gin'\n")
  mine_ssm.write_text('include "gin/ablations/ssm.gin"\nLearner.jit_compile = True\n')
  assert gin_text.file_bindings(str(mine_gpu))['Agent.jit_compile'] == 'True'
  path = lambda overlay: config_lib.run_path('logs', 'cheetah', 0, [str(overlay)])
  assert path(mine_gpu) == os.path.join('logs', 'cheetah', 'planet', 'seed0')
  assert path(mine_ssm) == os.path.join('logs', 'cheetah', 'mine_ssm', 'seed0')
  loop = tmp_path / 'loop.gin'
  loop.write_text(f"include '{loop}'\n")
  with pytest.raises(config_lib.ConfigError, match='includes itself'):
    gin_text.file_bindings(str(loop))

