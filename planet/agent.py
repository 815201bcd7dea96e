"""Acting (Algorithm 1, lines 10-12): filter the belief with the posterior, plan with CEM, add noise.

The agent never touches the optimizer. Its single compiled function `step` takes fixed shapes and is traced once.
"""
import gin
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from planet import networks
from planet import planner


@gin.configurable(denylist=['model'])
class Agent:

  def __init__(self, model, exploration_noise=0.3, plan_fn=planner.cem_plan, jit_compile=False):
    self.model = model
    self.exploration_noise = exploration_noise
    self._plan = plan_fn
    self.traces = 0
    action_size = model.action_size
    state_spec = tf.nest.map_structure(lambda x: tf.TensorSpec(x.shape, x.dtype), model.dynamics.initial(1))
    # The compiled acting step (belief, previous action, image, seed, noise scale) -> (action, belief); `act` calls it.
    # Traced without AutoGraph, as Learner.train_step, from the code this process imported.
    self.step = tf.function(self._step_impl, jit_compile=jit_compile, autograph=False, input_signature=[
        state_spec, tf.TensorSpec([action_size], tf.float32), tf.TensorSpec(networks.IMAGE_SHAPE, tf.uint8),
        tf.TensorSpec([2], tf.int32), tf.TensorSpec([], tf.float32)])
    self._details = None
    self.reset()

  def reset(self):
    self._state = self.model.dynamics.initial(1)
    self._prev_action = tf.zeros([self.model.action_size])

  def _step_impl(self, state, prev_action, image, seed, noise_scale):
    self.traces += 1
    with gin.config_scope('act'):  # Bindings scoped `act/` apply here only (e.g. act/time_loop.unroll = True).
      return self._act(state, prev_action, image, seed, noise_scale)

  def _act(self, state, prev_action, image, seed, noise_scale):
    model = self.model
    noise_seed, filter_seed, plan_seed, action_seed = _split(seed)
    embed = model.encoder(model.preprocess(image[None, None], noise_seed))
    post, _ = model.dynamics.observe(embed, prev_action[None, None], state, filter_seed)
    belief = tf.nest.map_structure(lambda x: x[:, -1], post)
    action = self._plan(belief, model.dynamics, self._expected_reward, model.action_size, plan_seed)
    # Line 12: exploration noise epsilon ~ Normal(0, 0.3) during collection (scale 0 for test episodes).
    action = tfp.distributions.Normal(action, noise_scale).sample(seed=action_seed)
    return tf.clip_by_value(action, -1.0, 1.0), belief

  def _expected_reward(self, features):
    return self.model.reward(features).mean()

  def plan_details(self, seed):
    """For diagnostics: the planner's `details` (planner.cem_plan) for the last `act`, whose `seed` it takes: the same
    belief and plan seed, so the same plan, with its refined action belief and the returns the model predicted for
    the elite. Compiled on first use (a second function beside `step`)."""
    if self._details is None:
      def details(belief, plan_seed):
        with gin.config_scope('act'):
          return self._plan(belief, self.model.dynamics, self._expected_reward, self.model.action_size, plan_seed,
                            details=True)
      self._details = tf.function(details)
    return self._details(self._state, _split(tf.constant(seed, tf.int32))[2])

  def act(self, observation, seed, explore):
    """The action for `observation` (a dict with 'image'); `seed` is a [2] int array."""
    noise = self.exploration_noise if explore else 0.0
    action, self._state = self.step(self._state, self._prev_action, observation['image'],
                                      tf.constant(seed, tf.int32), tf.constant(noise, tf.float32))
    self._prev_action = action
    return action.numpy()


def _split(seed):
  """An acting step's seeds: (observation noise, filter, plan, exploration noise)."""
  return tf.unstack(tf.random.experimental.stateless_split(seed, 4))


@gin.configurable(denylist=['action_size', 'rng'])
class RandomAgent:
  """Random actions (seed episodes of Algorithm 1, line 1; random collection of Fig. 5).

  `distribution='uniform'`: Uniform(-1, 1), the paper's "random actions" and the authors' code's at every commit;
  `'clipped_normal'`: clip(Normal(0, 1), -1, 1), an option (gin/ablations/clipped_normal_actions.gin).
  """

  def __init__(self, action_size, rng, distribution='uniform'):
    if distribution not in ('uniform', 'clipped_normal'):
      raise ValueError(f"RandomAgent.distribution must be 'uniform' or 'clipped_normal', got {distribution!r}")
    self._size = action_size
    self._rng = rng
    self._distribution = distribution

  def reset(self):
    pass

  def act(self, observation, seed, explore):
    del observation, seed, explore
    if self._distribution == 'clipped_normal':
      return np.clip(self._rng.normal(0, 1, self._size), -1, 1).astype(np.float32)
    return self._rng.uniform(-1, 1, self._size).astype(np.float32)
