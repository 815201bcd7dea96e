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

  def features(self, state):
    return tf.concat([state['stoch'], state['deter']], -1)

