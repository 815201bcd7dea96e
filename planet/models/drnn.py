"""Doubly recurrent model (Fig. 8, "DRNN"): two GRUs as encoder and decoder, stochastic states in between.

Encoder:  e_t = GRU_enc(e_{t-1}, [embed(o_t), a_{t-1}, s_{t-1}])
Sample:   s_t ~ N(mean, std)(act(Dense([e_t, s_{t-1}, d_{t-1}])))
Decoder:  d_t = GRU_dec(d_{t-1}, s_t);   features are d_t.
The prior is the same network fed a zero embedding (authors' code).
"""
import gin
import tensorflow as tf
import tensorflow_probability as tfp

from planet import networks
from planet.models import base

tfd = tfp.distributions


@gin.configurable
class DRNN(base.GaussianStateModel):

  def __init__(self, action_size, embed_size, stochastic_size=30, deterministic_size=200, hidden_size=200,
               min_std=0.1, activation='relu', name=None):
    super().__init__(name=name)
    self._sizes = (stochastic_size, deterministic_size, embed_size)
    self.encoder_cell = networks.GRUCell(embed_size + action_size + stochastic_size, deterministic_size)
    self.hidden = networks.Dense(2 * deterministic_size + stochastic_size, hidden_size, activation)
    self.out = networks.GaussianLayer(hidden_size, stochastic_size, min_std)
    self.decoder_cell = networks.GRUCell(stochastic_size, deterministic_size)
    self.feature_size = deterministic_size

  def initial(self, batch_size):
    stoch, deter, _ = self._sizes
    zeros = lambda size: tf.zeros([batch_size, size])
    return {'mean': zeros(stoch), 'std': zeros(stoch), 'stoch': zeros(stoch), 'encoder': zeros(deter),
            'decoder': zeros(deter)}

  def _step(self, prev, prev_action, embed, seed):
    encoder = self.encoder_cell(tf.concat([embed, prev_action, prev['stoch']], -1), prev['encoder'])
    mean, std = self.out(self.hidden(tf.concat([encoder, prev['stoch'], prev['decoder']], -1)))
    stoch = tfd.MultivariateNormalDiag(mean, std).sample(seed=seed)
    decoder = self.decoder_cell(stoch, prev['decoder'])
    return {'mean': mean, 'std': std, 'stoch': stoch, 'encoder': encoder, 'decoder': decoder}

  def img_step(self, prev_state, prev_action, seed):
    embed = tf.zeros([tf.shape(prev_action)[0], self._sizes[2]])
    return self._step(prev_state, prev_action, embed, seed)

  def obs_step(self, prev_state, prev_action, embed, seed):
    prior_seed, post_seed = tf.unstack(base.seeds_for(seed, 2))
    prior = self.img_step(prev_state, prev_action, prior_seed)
    return self._step(prev_state, prev_action, embed, post_seed), prior

  def features(self, state):
    return state['decoder']

  def replicate(self, state, count, seed):
    # The belief's stochastic sample already shaped the decoder state; candidates share it (deterministic
    # features), and the next prior step draws fresh samples per candidate.
    del seed
    return {key: tf.repeat(value, count, axis=0) for key, value in state.items()}
