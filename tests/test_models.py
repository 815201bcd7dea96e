"""The state-space models (planet/models/): the interface's shapes, the RSSM's fast loops against its step
scans, gradients, unrolled time loops."""
import gin
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from planet.models import base
from planet.models import rssm
from planet.models import ssm

tfd = tfp.distributions


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
