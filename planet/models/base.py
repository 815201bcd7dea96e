"""The interface every state-space model implements (RSSM, SSM, GRU, DRNN).

States are dicts of tensors with a leading batch axis (and a time axis for sequences). Time loops are `scan`s
over a single-step function (`tf.scan`, so graphs stay small; `time_loop.unroll` unrolls them). A model may
override `observe` and `imagine` to scan less per step with the same numbers (the RSSM does: only its recurrent
path is in the loop).
"""
import gin
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def seeds_for(seed, steps):
  """`steps` independent stateless seeds [steps, 2] from one [2] seed."""
  return tf.random.experimental.stateless_split(seed, steps)


@gin.configurable('time_loop', denylist=['fn', 'elems', 'initializer'])
def scan(fn, elems, initializer, unroll=False):
  """`tf.scan(fn, elems, initializer)` over the leading (time) axis of `elems`.

  With `unroll`, where that axis has a length known when tracing (the train step's chunks, the planner's horizon),
  the steps are written out one after another instead: the same ops in the same order, no while loop. A reason to:
  under XLA on a GPU a while loop whose trip count the compiler cannot prove, such as TensorFlow's gradient of a
  scan, copies its condition to the host and waits for it after every step. The cost: a graph that grows with the
  length, so longer tracing and compiling.
  """
  length = tf.nest.flatten(elems)[0].shape[0]
  if not unroll or length is None:
    return tf.scan(fn, elems, initializer)
  carry, outputs = initializer, []
  for t in range(length):
    carry = fn(carry, tf.nest.map_structure(lambda x, t=t: x[t], elems))
    outputs.append(carry)
  return tf.nest.map_structure(lambda *steps: tf.stack(steps), *outputs)


def time_steps(sequence):
  """The length of axis 1 of a [B, T, ...] tensor: a Python int when known when tracing, else a scalar tensor."""
  return sequence.shape[1] if sequence.shape[1] is not None else tf.shape(sequence)[1]


def swap(tree):
  """[B, T, ...] <-> [T, B, ...] for every tensor of a nested structure."""
  def transpose(x):
    x = tf.convert_to_tensor(x)
    return tf.transpose(x, [1, 0] + list(range(2, x.shape.rank)))

  return tf.nest.map_structure(transpose, tree)


class StateSpaceModel(tf.Module):
  """Subclasses implement `initial`, `obs_step`, `img_step`, `features`, `distribution`, `replicate`."""

  #: Whether the model has a stochastic state with a KL term (False for the purely deterministic GRU).
  stochastic = True

  def initial(self, batch_size):
    raise NotImplementedError

  def obs_step(self, prev_state, prev_action, embed, seed):
    """One filtering step: (posterior state, prior state) at time t from the state at t - 1."""
    raise NotImplementedError

  def img_step(self, prev_state, prev_action, seed):
    """One open-loop step of the transition model p(s_t | s_{t-1}, a_{t-1})."""
    raise NotImplementedError

  def features(self, state):
    """What the decoder, reward head and planner read."""
    raise NotImplementedError

  def distribution(self, state):
    """The latent distribution of a state, for KL terms (None for deterministic models)."""
    raise NotImplementedError

  def replicate(self, state, count, seed):
    """`count` samples of a batch-1 belief (Algorithm 2, line 5): stochastic parts drawn anew."""
    raise NotImplementedError

  def observe(self, embed, action, state, seed):
    """Filters a sequence: embed [B, T, E], action [B, T, A] (a_{t-1} at index t) -> (posteriors, priors)."""
    steps = time_steps(embed)

    def step(carry, inputs):
      prev_post, _ = carry
      embed_t, action_t, seed_t = inputs
      return self.obs_step(prev_post, action_t, embed_t, seed_t)

    prior_init = state
    post, prior = scan(step, (swap(embed), swap(action), seeds_for(seed, steps)), (state, prior_init))
    return swap(post), swap(prior)

  def imagine(self, action, state, seed):
    """Open-loop priors for action [B, T, A] from `state` (the state before the first action)."""
    steps = time_steps(action)

    def step(prev, inputs):
      action_t, seed_t = inputs
      return self.img_step(prev, action_t, seed_t)

    return swap(scan(step, (swap(action), seeds_for(seed, steps)), state))


class GaussianStateModel(StateSpaceModel):
  """Models whose state holds a diagonal Gaussian ('mean', 'std') and a sample of it ('stoch').

  With `mean_only` the 'stoch' part is the mean itself (no sampling anywhere, belief replicas included).
  """

  mean_only = False

  def distribution(self, state):
    return tfd.MultivariateNormalDiag(state['mean'], state['std'])

  def replicate(self, state, count, seed):
    tiled = {key: tf.repeat(value, count, axis=0) for key, value in state.items()}
    tiled['stoch'] = tiled['mean'] if self.mean_only else self.distribution(tiled).sample(seed=seed)
    return tiled
