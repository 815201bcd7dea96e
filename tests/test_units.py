"""Unit tests: shapes and dtypes, preprocessing, KL with free nats, Adam, chunk sampling, env API."""
import os

import gin
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from conftest import tiny_gin
from planet import cli
from planet import envs
from planet import networks
from planet import objectives
from planet import optimizer
from planet import preprocess
from planet import replay as replay_lib
from planet import training
from planet import world_model
from planet.models import base
from planet.models import rssm
from planet.models import ssm

tfd = tfp.distributions


def test_encoder_decoder_reward_shapes():
  encoder = networks.Encoder(depth=4)
  image = tf.zeros([2, 3, 64, 64, 3])
  embed = encoder(image)
  assert embed.shape == (2, 3, 128) and embed.dtype == tf.float32
  decoder = networks.Decoder(feature_size=10, depth=4)
  dist = decoder(tf.zeros([2, 3, 10]))
  assert isinstance(dist, tfd.Independent)
  assert dist.mean().shape == (2, 3, 64, 64, 3)
  assert dist.log_prob(image).shape == (2, 3)
  reward = networks.RewardHead(10, units=8)(tf.zeros([2, 3, 10]))
  assert isinstance(reward, tfd.Normal) and reward.mean().shape == (2, 3)


@pytest.mark.parametrize('precision', ['float32', 'bfloat16'])
@pytest.mark.parametrize('size, kernel, phases', [(1, 5, False), (4, 6, True), (3, 4, True)])
def test_transposed_convs_computed_otherwise_are_the_same_as_tensorflows(size, kernel, phases, precision):
  # The decoder's first layer (a 1 x 1 input) runs as one matmul and its last one by phases (networks.Conv): their
  # values and gradients must be those of tf.nn.conv2d_transpose with the same kernel, up to float rounding.
  layer = networks.Conv(12, 5, kernel, 'relu', transpose=True, precision=precision, phases=phases)
  out = (size - 1) * 2 + kernel
  x = tf.random.stateless_normal([7, size, size, 12], [1, 2])
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(x)
    y = layer(x)
    dtype = networks.get_precision(precision)
    reference = tf.nn.relu(tf.nn.conv2d_transpose(tf.cast(x, dtype), tf.cast(layer.kernel, dtype), [7, out, out, 5],
                                                  2, 'VALID') + tf.cast(layer.bias, dtype))
    weights = tf.random.stateless_normal([7, out, out, 5], [3, 4])
    loss, reference_loss = (tf.reduce_sum(tf.cast(v, tf.float32) * weights) for v in (y, reference))
  tolerance = dict(rtol=1e-5, atol=1e-5) if precision == 'float32' else dict(rtol=2e-2, atol=5e-2)
  assert y.shape == (7, out, out, 5) and y.dtype == dtype
  np.testing.assert_allclose(tf.cast(y, tf.float32), tf.cast(reference, tf.float32), **tolerance)
  for got, want in zip(tape.gradient(loss, [x, layer.kernel, layer.bias]),
                       tape.gradient(reference_loss, [x, layer.kernel, layer.bias])):
    np.testing.assert_allclose(got, want, **tolerance)
  # Switched off, the layer is tf.nn.conv2d_transpose itself, bit for bit.
  gin.parse_config('transposed_convs.rewrite = False')
  np.testing.assert_array_equal(tf.cast(layer(x), tf.float32), tf.cast(reference, tf.float32))


def test_paper_size_encoder_embeds_1024():
  assert networks.Encoder().embed_size == 1024
  assert networks.Encoder()(tf.zeros([1, 64, 64, 3])).shape == (1, 1024)


def test_rssm_interface_shapes():
  model = rssm.RSSM(action_size=2, embed_size=5, stochastic_size=3, deterministic_size=4, hidden_size=6)
  state = model.initial(2)
  post, prior = model.observe(tf.zeros([2, 7, 5]), tf.zeros([2, 7, 2]), state, tf.constant([0, 1]))
  for states in (post, prior):
    assert states['stoch'].shape == (2, 7, 3) and states['deter'].shape == (2, 7, 4)
    assert bool(tf.reduce_all(states['std'] > 0.1))
  assert model.features(post).shape == (2, 7, 7)
  assert isinstance(model.distribution(post), tfd.MultivariateNormalDiag)
  last = tf.nest.map_structure(lambda x: x[:, -1], post)
  imagined = model.imagine(tf.zeros([2, 5, 2]), last, tf.constant([0, 2]))
  assert imagined['stoch'].shape == (2, 5, 3)
  many = model.replicate(tf.nest.map_structure(lambda x: x[:1], last), 9, tf.constant([0, 3]))
  assert many['stoch'].shape == (9, 3)
  # The deterministic part is shared, the stochastic part is drawn anew per sample.
  assert np.allclose(many['deter'].numpy(), many['deter'].numpy()[:1])
  assert np.std(many['stoch'].numpy(), 0).min() > 0


def test_rssm_posterior_prior_share_the_deterministic_path():
  model = rssm.RSSM(action_size=1, embed_size=5, stochastic_size=3, deterministic_size=4, hidden_size=6)
  post, prior = model.observe(tf.random.normal([1, 4, 5]), tf.zeros([1, 4, 1]), model.initial(1),
                              tf.constant([0, 1]))
  np.testing.assert_allclose(post['deter'].numpy(), prior['deter'].numpy())


@pytest.mark.parametrize('mean_only', [False, True])
def test_rssm_fast_loops_match_the_step_scans(mean_only):
  # The RSSM's own observe and imagine (only the recurrent path scanned, input layers split, observe's prior head
  # batched) compute what scanning obs_step and img_step computes, up to float rounding; only observe's prior sample
  # (read by nothing) is drawn anew.
  model = rssm.RSSM(action_size=2, embed_size=16, stochastic_size=5, deterministic_size=7, hidden_size=9,
                    mean_only=mean_only)
  embed, action, seed = tf.random.normal([3, 6, 16]), tf.random.normal([3, 6, 2]), tf.constant([4, 5])
  post, prior = model.observe(embed, action, model.initial(3), seed)
  scan_post, scan_prior = base.StateSpaceModel.observe(model, embed, action, model.initial(3), seed)
  for key in ('mean', 'std', 'stoch', 'deter'):
    np.testing.assert_allclose(post[key], scan_post[key], atol=1e-5)
  for key in ('mean', 'std', 'deter'):
    np.testing.assert_allclose(prior[key], scan_prior[key], atol=1e-5)
  assert prior['stoch'].shape == (3, 6, 5) and np.all(np.isfinite(prior['stoch']))
  assert np.array_equal(prior['stoch'], prior['mean']) == mean_only
  # imagine: the same draws as scanning img_step, step by step.
  start = tf.nest.map_structure(lambda x: x[:, -1], post)
  imagined = model.imagine(action, start, seed)
  scan_imagined = base.StateSpaceModel.imagine(model, action, start, seed)
  for key in ('mean', 'std', 'stoch', 'deter'):
    np.testing.assert_allclose(imagined[key], scan_imagined[key], atol=1e-5)


def test_rssm_loop_gradients_keep_no_weights_per_step():
  # observe and imagine read their weights once, before the loop: no variable read inside it, so a gradient
  # through it keeps no copy of the weights per step (as scanning obs_step, which reads them every step, does).
  model = rssm.RSSM(action_size=1, embed_size=8, stochastic_size=3, deterministic_size=4, hidden_size=6)

  def loop_ops(observe):
    @tf.function
    def gradient(embed, action):
      with tf.GradientTape() as tape:
        post, prior = observe(model, embed, action, model.initial(2), tf.constant([0, 1]))
        loss = tf.reduce_sum(post['stoch']) + tf.reduce_sum(prior['mean'])
      return tape.gradient(loss, model.trainable_variables)

    graph = gradient.get_concrete_function(tf.TensorSpec([2, 5, 8]), tf.TensorSpec([2, 5, 1])).graph
    functions = graph.as_graph_def().library.function
    return {node.op for function in functions if 'body' in function.signature.name for node in function.node_def}

  assert 'ReadVariableOp' not in loop_ops(rssm.RSSM.observe)
  assert 'ReadVariableOp' in loop_ops(base.StateSpaceModel.observe)
  imagine = lambda model, embed, action, state, seed: (model.imagine(action, state, seed),) * 2
  assert 'ReadVariableOp' not in loop_ops(imagine)


@pytest.mark.parametrize('model_class, sizes', [(rssm.RSSM, dict(deterministic_size=7)), (ssm.SSM, {})])
def test_unrolled_time_loops_compute_the_same_without_while_loops(model_class, sizes):
  # time_loop.unroll writes the steps out instead of scanning them: the same states, bit for bit in the plain
  # graph, and no while loop left in the gradient's graph (the loop XLA on a GPU syncs with the host every step).
  # The RSSM has its own loops, the SSM the interface's.
  tf.random.set_seed(0)  # The same weights and inputs every time.
  model = model_class(action_size=2, embed_size=16, stochastic_size=5, hidden_size=9, **sizes)
  embed, action, seed = tf.random.normal([3, 6, 16]), tf.random.normal([3, 6, 2]), tf.constant([4, 5])

  def loops(embed, action):
    with tf.GradientTape() as tape:
      tape.watch(embed)
      post, prior = model.observe(embed, action, model.initial(3), seed)
      imagined = model.imagine(action, tf.nest.map_structure(lambda x: x[:, -1], post), seed)
      loss = sum(tf.reduce_sum(x) for x in tf.nest.flatten((post, prior['mean'], imagined)))
    return post, prior, imagined, tape.gradient(loss, [embed] + list(model.trainable_variables))

  def run(unroll):
    gin.bind_parameter('time_loop.unroll', unroll)
    compiled = tf.function(loops)  # Traced anew: a binding is read when tracing.
    graph = compiled.get_concrete_function(embed, action).graph.as_graph_def()
    nodes = list(graph.node) + [node for function in graph.library.function for node in function.node_def]
    return compiled(embed, action), sum(node.op in ('While', 'StatelessWhile') for node in nodes)

  try:
    (scanned, scan_loops), (unrolled, unroll_loops) = run(False), run(True)
  finally:
    gin.clear_config()
  assert scan_loops >= 3 and unroll_loops == 0
  for x, y in zip(tf.nest.flatten(scanned[:3]), tf.nest.flatten(unrolled[:3])):
    np.testing.assert_array_equal(x, y)
  # The gradients sum the steps' terms in another order (a loop's accumulator against one sum): float rounding,
  # which scales with the size of the terms summed, so the absolute tolerance scales with the largest entry.
  for x, y in zip(scanned[3], unrolled[3]):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(y).max())))


def test_preprocess_quantizes_to_5_bits_and_round_trips():
  image = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
  x = preprocess.preprocess(image, tf.constant([0, 1])).numpy()
  assert x.dtype == np.float32 and x.min() >= -0.5 and x.max() < 0.5
  # Noise stays inside the quantization bin: floor(x) bins equal the 5-bit levels.
  np.testing.assert_array_equal(np.floor((x + 0.5) * 32), image // 8)
  np.testing.assert_array_equal(preprocess.postprocess(x), (image // 8) * 8)
  # Dequantization noise is really there (not a constant offset).
  assert np.std((x + 0.5) * 32 - image // 8) > 0.2


def test_kl_free_nats_against_hand_computation():
  # KL(N(m, s) || N(0, 1)) per dim = 0.5 (s^2 + m^2 - 1) - ln s; summed over dims, clipped per element.
  post = tfd.MultivariateNormalDiag([[[1.0, 0.0]], [[3.0, 0.0]]], [[[1.0, 1.0]], [[1.0, 1.0]]])
  prior = tfd.MultivariateNormalDiag(tf.zeros([2, 1, 2]), tf.ones([2, 1, 2]))
  loss, kl = objectives.kl_with_free_nats(post, prior, 3.0)
  # Element KLs: 0.5 and 4.5 -> clipped 3 and 4.5 -> mean 3.75 (clamping after the mean would give 3.0).
  np.testing.assert_allclose(kl.numpy(), 2.5, rtol=1e-6)
  np.testing.assert_allclose(loss.numpy(), 3.75, rtol=1e-6)


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


def _episode(length, action_size=1, start=0):
  return {'image': np.full((length, 64, 64, 3), start, np.uint8),
          'action': np.zeros((length, action_size), np.float32),
          'reward': np.arange(start, start + length, dtype=np.float32)}


def test_chunk_sampling_bounds(tmp_path):
  replay = replay_lib.Replay(str(tmp_path))
  replay.add(_episode(12, start=0))
  replay.add(_episode(30, start=100))
  replay.add(_episode(5, start=200))  # Too short for L = 10: never sampled.
  batch = replay.sample(200, 10, np.random.RandomState(0))
  assert batch['image'].shape == (200, 10, 64, 64, 3) and batch['image'].dtype == np.uint8
  rewards = batch['reward']
  # Consecutive steps of one episode, fully inside it.
  np.testing.assert_array_equal(np.diff(rewards, axis=1), 1)
  starts = rewards[:, 0]
  assert set(np.unique(starts[starts < 100])) <= set(range(0, 3))
  assert set(np.unique(starts[starts >= 100])) <= set(range(100, 121))
  assert not np.any(starts >= 200)
  # Uniform over episodes first: both usable episodes about equally often despite different lengths.
  assert 60 < np.sum(starts < 100) < 140
  assert replay.num_steps == 11 + 29 + 4


def test_replay_survives_partial_file_and_resumes_indices(tmp_path):
  replay = replay_lib.Replay(str(tmp_path))
  replay.add(_episode(12))
  path = replay.add(_episode(12))
  with open(path, 'r+b') as f:  # Truncate as a crash mid-write of a non-atomic writer would.
    f.truncate(100)
  with open(os.path.join(tmp_path, '.abc.tmp'), 'wb') as f:
    f.write(b'partial')
  reloaded = replay_lib.Replay(str(tmp_path))
  assert reloaded.num_episodes == 1
  assert reloaded.next_index == 2  # Never overwrites an existing file name.


def test_prefetcher_yields_batches(tmp_path):
  replay = replay_lib.Replay(str(tmp_path))
  replay.add(_episode(20))
  prefetch = replay_lib.Prefetcher(replay, 3, 5, seed=0)
  try:
    assert next(prefetch)['image'].shape == (3, 5, 64, 64, 3)
  finally:
    prefetch.close()


def test_batches_prefetched_to_a_device_train_the_same(tmp_path):
  # train.prefetch_device: the prefetch thread copies each batch to the device (here the CPU: the test machines have
  # no GPU); the updates see the same values, so the losses are the same bit for bit.
  replay = replay_lib.Replay(str(tmp_path))
  for i in range(2):
    replay.add(_episode(20 + i))
  cli.parse([], tiny_gin())
  losses = {}
  for device in (None, '/CPU:0'):
    tf.random.set_seed(0)
    learner = world_model.Learner(world_model.WorldModel(1), batch_size=2, length=5)
    prefetch = replay_lib.Prefetcher(replay, 2, 5, seed=3,
                                     transform=training.batch_to_device(device) if device else None)
    try:
      losses[device] = training.update(learner, prefetch, 3, seed=0)
    finally:
      prefetch.close()
  assert losses[None] == losses['/CPU:0']
  prefetch = replay_lib.Prefetcher(replay, 2, 5, seed=3, transform=training.batch_to_device('/CPU:0'))
  try:
    batch = next(prefetch)
  finally:
    prefetch.close()
  assert isinstance(batch['image'], tf.Tensor) and batch['image'].device.endswith('CPU:0')
  assert batch['image'].dtype == tf.uint8 and batch['image'].shape == (2, 5, 64, 64, 3)


def test_fake_env_api():
  env = envs.FakeEnv(seed=0, max_env_steps=6, action_repeat=2)
  obs = env.reset(seed=1)
  assert obs['image'].shape == (64, 64, 3) and obs['image'].dtype == np.uint8
  steps = 0
  done = False
  while not done:
    obs, reward, done, info = env.step([0.5])
    steps += 1
  assert steps == 3 and info['env_steps'] == 6


def test_unknown_task_gives_clear_error():
  with pytest.raises(ValueError, match='unknown task .*cartpole'):
    envs.make_env('cartpol')


def test_bad_gin_binding_gives_clear_error():
  with pytest.raises(cli.ConfigError, match="bad gin configuration.*'RSSM'.*'not_a_parameter'"):
    cli.parse([], ['RSSM.not_a_parameter = 3'])
  with pytest.raises(cli.ConfigError, match='bad gin configuration'):
    cli.parse([], ['NoSuchThing.size = 3'])
  with pytest.raises(cli.ConfigError, match='not found'):
    cli.parse(['gin/nope.gin'], [])


def test_train_step_and_act_trace_once():
  from planet import agent as agent_lib
  cli.parse([], tiny_gin())
  model = world_model.WorldModel(2)
  learner = world_model.Learner(model, batch_size=2, length=4)
  batch = {'image': np.zeros((2, 4, 64, 64, 3), np.uint8), 'action': np.zeros((2, 4, 2), np.float32),
           'reward': np.zeros((2, 4), np.float32)}
  for step in range(3):
    learner.train_step(batch, tf.constant([0, step]))
  assert learner.traces == 1
  agent = agent_lib.Agent(model)
  for step in range(3):
    action = agent.act({'image': np.zeros((64, 64, 3), np.uint8)}, np.array([0, step]), explore=step % 2 == 0)
    assert action.shape == (2,) and np.all(np.abs(action) <= 1)
  agent.reset()
  agent.act({'image': np.zeros((64, 64, 3), np.uint8)}, np.array([0, 9]), explore=False)
  assert agent.traces == 1
