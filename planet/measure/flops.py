"""FLOP counts of PlaNet's hot paths from the layer sizes (a multiply-add counts 2), and the plan call's matmul
shapes. No TensorFlow."""


from planet import tasks as tasks_lib


def conv_flops(size_in, channels_in, channels_out, kernel, transpose):
  """2 x MACs of a stride-2 valid (transposed) convolution on a square input."""
  if transpose:
    return 2 * size_in * size_in * kernel * kernel * channels_in * channels_out
  size_out = (size_in - kernel) // 2 + 1
  return 2 * size_out * size_out * kernel * kernel * channels_in * channels_out


def frame_flops(depth, feature_size):
  """Forward FLOPs of encoder + decoder for one 64x64 frame (the World Models nets, App. A)."""
  encoder, size, channels = 0, tasks_lib.IMAGE_SIZE, 3
  for out in (depth, 2 * depth, 4 * depth, 8 * depth):
    encoder += conv_flops(size, channels, out, 4, False)
    size, channels = (size - 4) // 2 + 1, out
  decoder, size, channels = 2 * feature_size * 32 * depth, 1, 32 * depth
  for out, kernel in ((4 * depth, 5), (2 * depth, 5), (depth, 6), (3, 6)):
    decoder += conv_flops(size, channels, out, kernel, True)
    size, channels = (size - 1) * 2 + kernel, out
  return encoder, decoder


def transition_flops(stoch, deter, hidden, action):
  """Forward FLOPs of one prior step of the RSSM for one sample."""
  return 2 * ((stoch + action) * hidden + (hidden + deter) * 3 * deter + deter * hidden + hidden * 2 * stoch)


def reward_flops(feature, units, layers):
  sizes = [feature] + [units] * layers + [1]
  return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def train_step_flops(p):
  """Forward + backward (~3x forward) FLOPs of one train step over B x L frames."""
  feature = p['stoch'] + p['deter']
  encoder, decoder = frame_flops(p['depth'], feature)
  posterior = 2 * ((p['deter'] + 32 * p['depth']) * p['hidden'] + p['hidden'] * 2 * p['stoch'])
  per_frame = (encoder + decoder + transition_flops(p['stoch'], p['deter'], p['hidden'], p['action'])
               + posterior + reward_flops(feature, p['reward_units'], p['reward_layers']))
  return 3 * per_frame * p['batch'] * p['length']


def plan_flops(p):
  """FLOPs of one CEM call: I x J x H transitions and reward evaluations (the filter step is negligible)."""
  per_step = (transition_flops(p['stoch'], p['deter'], p['hidden'], p['action'])
              + reward_flops(p['stoch'] + p['deter'], p['reward_units'], p['reward_layers']))
  return per_step * p['candidates'] * p['horizon'] * p['iterations']


def plan_matmuls(p):
  """Every matmul of one plan call as (rows, inputs, outputs, count): the transition's five per imagined step (I x H
  of them, J rows each) and the reward head's layers over all J x H imagined states (I of them). Their FLOPs are
  `plan_flops`."""
  rows, steps, iterations = p['candidates'], p['horizon'], p['iterations']
  stoch, deter, hidden = p['stoch'], p['deter'], p['hidden']
  # RSSM prior: input layer, GRU gates and candidate, hidden layer, Gaussian output layer.
  transition = [(stoch + p['action'], hidden), (hidden + deter, 2 * deter), (hidden + deter, deter),
                (deter, hidden), (hidden, 2 * stoch)]
  reward = [stoch + deter] + [p['reward_units']] * p['reward_layers'] + [1]
  return ([(rows, k, n, iterations * steps) for k, n in transition]
          + [(rows * steps, k, n, iterations) for k, n in zip(reward[:-1], reward[1:])])
