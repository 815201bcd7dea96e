"""Recurrent state-space model (Sec. 3, Eq. 4 and Fig. 2c): a GRU deterministic path plus a stochastic state.

Prior:     h_t = GRU(h_{t-1}, relu(Dense([s_{t-1}, a_{t-1}])));  s_t ~ N(mean, std)(relu(Dense(h_t)))
Posterior: s_t ~ N(mean, std)(relu(Dense([h_t, embed(o_t)])))
with std = softplus(x) + min_std. Features are [s_t, h_t].
With `mean_only` the state is the predicted mean, never a sample: the authors' code's "RNN" of Fig. 4
(gin/ablations/gru.gin, trained with the divergence scale 0).
"""
import gin
import tensorflow as tf
import tensorflow_probability as tfp

from planet import networks
from planet.models import base

tfd = tfp.distributions


@gin.configurable
class RSSM(base.GaussianStateModel):

  def __init__(self, action_size, embed_size, stochastic_size=30, deterministic_size=200, hidden_size=200,
               min_std=0.1, activation='relu', mean_only=False, name=None):
    super().__init__(name=name)
    self.mean_only = mean_only
    act = activation
    self._sizes = (stochastic_size, deterministic_size)
    self.prior_in = networks.Dense(stochastic_size + action_size, hidden_size, act)
    self.cell = networks.GRUCell(hidden_size, deterministic_size)
    self.prior_hidden = networks.Dense(deterministic_size, hidden_size, act)
    self.prior_out = networks.GaussianLayer(hidden_size, stochastic_size, min_std)
    self.post_hidden = networks.Dense(deterministic_size + embed_size, hidden_size, act)
    self.post_out = networks.GaussianLayer(hidden_size, stochastic_size, min_std)
    self.feature_size = stochastic_size + deterministic_size

  def initial(self, batch_size):
    stoch, deter = self._sizes
    zeros = lambda size: tf.zeros([batch_size, size])
    return {'mean': zeros(stoch), 'std': zeros(stoch), 'stoch': zeros(stoch), 'deter': zeros(deter)}

  def _state(self, mean, std, deter, seed):
    stoch = mean if self.mean_only else tfd.MultivariateNormalDiag(mean, std).sample(seed=seed)
    return {'mean': mean, 'std': std, 'stoch': stoch, 'deter': deter}

  def img_step(self, prev_state, prev_action, seed):
    x = self.prior_in(tf.concat([prev_state['stoch'], prev_action], -1))
    deter = self.cell(x, prev_state['deter'])
    mean, std = self.prior_out(self.prior_hidden(deter))
    return self._state(mean, std, deter, seed)

  def obs_step(self, prev_state, prev_action, embed, seed):
    prior_seed, post_seed = tf.unstack(base.seeds_for(seed, 2))
    prior = self.img_step(prev_state, prev_action, prior_seed)
    mean, std = self.post_out(self.post_hidden(tf.concat([prior['deter'], embed], -1)))
    return self._state(mean, std, prior['deter'], post_seed), prior

  # observe and imagine: the interface's two time loops, arranged for speed with the same numbers as scanning
  # obs_step and img_step (up to float rounding). Only the recurrent path is scanned; what depends on one step's
  # inputs alone runs once over all steps as batched matmuls, and each loop reads its weights once, before it
  # starts, so that a gradient through it keeps no copy of them per step. On a GPU both compiled functions are
  # chains of small kernels (docs/performance.md): fewer per step is what makes them faster there.

  def _deter_step(self, action):
    """(step, inputs): h_t = GRU(h_{t-1}, act([s_{t-1}, a_{t-1}] W + b)) as a function of (state, input_t), with
    the actions' part of the input layer, a W_a + b, computed here for all steps ([s, a] W = s W_s + a W_a)."""
    stoch_size, _ = self._sizes
    kernel, act, cell = tf.convert_to_tensor(self.prior_in.kernel), self.prior_in.activation, self.cell.read()
    from_stoch = kernel[:stoch_size]

    def step(prev_state, action_in):
      return cell(act(tf.matmul(prev_state['stoch'], from_stoch) + action_in), prev_state['deter'])

    return step, tf.tensordot(action, kernel[stoch_size:], 1) + self.prior_in.bias

  def observe(self, embed, action, state, seed):
    """The filter; the prior's head (its mean and std feed only the KL) runs after the loop, over all steps, so its
    sample, which nothing in training reads, is drawn once for all steps instead of per step as in obs_step."""
    _, deter_size = self._sizes
    deter_step, action_in = self._deter_step(action)
    kernel, act = tf.convert_to_tensor(self.post_hidden.kernel), self.post_hidden.activation
    from_deter, post_out = kernel[:deter_size], self.post_out.read()
    embed_in = tf.tensordot(embed, kernel[deter_size:], 1) + self.post_hidden.bias

    def step(prev, inputs):
      action_t, embed_t, seed_t = inputs
      deter = deter_step(prev, action_t)
      mean, std = post_out(act(tf.matmul(deter, from_deter) + embed_t))
      return self._state(mean, std, deter, base.seeds_for(seed_t, 2)[1])  # obs_step's posterior seed.

    steps = base.time_steps(embed)
    inputs = (base.swap(action_in), base.swap(embed_in), base.seeds_for(seed, steps))
    post = base.swap(base.scan(step, inputs, state))
    mean, std = self.prior_out(self.prior_hidden(post['deter']))
    prior = self._state(mean, std, post['deter'], tf.random.experimental.stateless_fold_in(seed, steps))
    return post, prior

  def imagine(self, action, state, seed):
    """The open loop of img_step: the same draws, step by step."""
    deter_step, action_in = self._deter_step(action)
    hidden, out = self.prior_hidden.read(), self.prior_out.read()

    def step(prev, inputs):
      action_t, seed_t = inputs
      deter = deter_step(prev, action_t)
      mean, std = out(hidden(deter))
      return self._state(mean, std, deter, seed_t)

    inputs = (base.swap(action_in), base.seeds_for(seed, base.time_steps(action)))
    return base.swap(base.scan(step, inputs, state))

  def features(self, state):
    return tf.concat([state['stoch'], state['deter']], -1)

