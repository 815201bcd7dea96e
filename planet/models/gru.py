"""Purely deterministic model (Fig. 2a, the "RNN" of Fig. 4): a GRU state, no stochastic state, no KL term.

Filtering:  h_t = GRU(h_{t-1}, act(Dense([a_{t-1}, embed(o_t)])))
Open loop:  the same step with a zero embedding (as the authors' code builds its DRNN and SSM priors: the same
            network fed a zero observation). Paper silent on the details; the authors' code has no such model.
Features are h_t. Its predictions are deterministic: open-loop rollouts of equal actions are identical.
"""
import gin
import tensorflow as tf

from planet import networks
from planet.models import base


@gin.configurable
class GRUModel(base.StateSpaceModel):

  stochastic = False

  def __init__(self, action_size, embed_size, deterministic_size=200, hidden_size=200, activation='relu',
               name=None):
    super().__init__(name=name)
    self._embed_size = embed_size
    self._size = deterministic_size
    self.inputs = networks.Dense(action_size + embed_size, hidden_size, activation)
    self.cell = networks.GRUCell(hidden_size, deterministic_size)
    self.feature_size = deterministic_size

  def initial(self, batch_size):
    return {'deter': tf.zeros([batch_size, self._size])}

  def _step(self, prev_state, prev_action, embed):
    return {'deter': self.cell(self.inputs(tf.concat([prev_action, embed], -1)), prev_state['deter'])}

  def img_step(self, prev_state, prev_action, seed):
    del seed
    embed = tf.zeros([tf.shape(prev_action)[0], self._embed_size])
    return self._step(prev_state, prev_action, embed)

  def obs_step(self, prev_state, prev_action, embed, seed):
    return self._step(prev_state, prev_action, embed), self.img_step(prev_state, prev_action, seed)

  def features(self, state):
    return state['deter']

  def distribution(self, state):
    return None

  def replicate(self, state, count, seed):
    del seed
    return {key: tf.repeat(value, count, axis=0) for key, value in state.items()}
