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

  def observe(self, embed, action, state, seed):
    """The interface's filter, arranged for speed: the same numbers as scanning `obs_step` (up to float rounding),
    except the prior's sample, which nothing in training reads: drawn once for all steps.

    Only the recurrent path is scanned. What depends on one step's inputs alone runs once over all steps as batched
    matmuls: the action's and the embedding's parts of the two input layers ([s, a] W = s W_s + a W_a), and the
    prior's head (its mean and std feed only the KL). The loop reads its weights once, before it starts, so that
    its gradient keeps no copy of them per step. On a GPU the train step is a chain of small kernels (README,
    Expected wall time): fewer per step is what makes it faster there.
    """
    stoch_size, deter_size = self._sizes
    act = self.prior_in.activation
    in_kernel, post_kernel = tf.convert_to_tensor(self.prior_in.kernel), tf.convert_to_tensor(self.post_hidden.kernel)
    from_stoch, from_deter = in_kernel[:stoch_size], post_kernel[:deter_size]
    action_in = tf.tensordot(action, in_kernel[stoch_size:], 1) + self.prior_in.bias
    embed_in = tf.tensordot(embed, post_kernel[deter_size:], 1) + self.post_hidden.bias
    cell, post_out = self.cell.read(), self.post_out.read()

    def step(prev, inputs):
      action_t, embed_t, seed_t = inputs
      deter = cell(act(tf.matmul(prev['stoch'], from_stoch) + action_t), prev['deter'])
      mean, std = post_out(act(tf.matmul(deter, from_deter) + embed_t))
      return self._state(mean, std, deter, base.seeds_for(seed_t, 2)[1])  # obs_step's posterior seed.

    steps = tf.shape(embed)[1]
    inputs = (base.swap(action_in), base.swap(embed_in), base.seeds_for(seed, steps))
    post = base.swap(tf.scan(step, inputs, state))
    mean, std = self.prior_out(self.prior_hidden(post['deter']))
    prior = self._state(mean, std, post['deter'], tf.random.experimental.stateless_fold_in(seed, steps))
    return post, prior

  def features(self, state):
    return tf.concat([state['stoch'], state['deter']], -1)

