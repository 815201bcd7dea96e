"""Purely stochastic state-space model (Fig. 2b, the "SSM" of Fig. 4): no deterministic path.

Prior:     s_t ~ N(mean, std)(act(Dense([s_{t-1}, a_{t-1}])))
Posterior: s_t ~ N(mean, std)(act(Dense([prior mean, prior std, embed(o_t)])))   (authors' code)
Features are the sample s_t.
"""
import gin
import tensorflow as tf
import tensorflow_probability as tfp

from planet import networks
from planet.models import base

tfd = tfp.distributions


@gin.configurable
class SSM(base.GaussianStateModel):

  def __init__(self, action_size, embed_size, stochastic_size=30, hidden_size=200, min_std=0.1,
               activation='relu', name=None):
    super().__init__(name=name)
    self._size = stochastic_size
    self.prior_hidden = networks.Dense(stochastic_size + action_size, hidden_size, activation)
    self.prior_out = networks.GaussianLayer(hidden_size, stochastic_size, min_std)
    self.post_hidden = networks.Dense(2 * stochastic_size + embed_size, hidden_size, activation)
    self.post_out = networks.GaussianLayer(hidden_size, stochastic_size, min_std)
    self.feature_size = stochastic_size

  def initial(self, batch_size):
    zeros = tf.zeros([batch_size, self._size])
    return {'mean': zeros, 'std': zeros, 'stoch': zeros}

  @staticmethod
  def _state(mean, std, seed):
    return {'mean': mean, 'std': std, 'stoch': tfd.MultivariateNormalDiag(mean, std).sample(seed=seed)}

  def img_step(self, prev_state, prev_action, seed):
    mean, std = self.prior_out(self.prior_hidden(tf.concat([prev_state['stoch'], prev_action], -1)))
    return self._state(mean, std, seed)

  def obs_step(self, prev_state, prev_action, embed, seed):
    prior_seed, post_seed = tf.unstack(base.seeds_for(seed, 2))
    prior = self.img_step(prev_state, prev_action, prior_seed)
    mean, std = self.post_out(self.post_hidden(tf.concat([prior['mean'], prior['std'], embed], -1)))
    return self._state(mean, std, post_seed), prior

  def features(self, state):
    return state['stoch']

