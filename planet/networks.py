"""Encoder, decoder and dense heads (App. A; layer shapes of the authors' code, see faithfulness.md).

Layers are small `tf.Module`s over `tf.nn` ops: no Keras, so variables are plain, checkpoints are stable, and
the compiled graphs stay simple. Heads return `tfp.distributions`.

Mixed precision (`gin/mixed_precision.gin`): the conv encoder and decoder, which hold most of a train step's
FLOPs, can compute in bfloat16 (`precision='bfloat16'`). Variables stay float32 and are cast per call, and both
nets hand float32 to the rest of the model, so the state-space model, the distributions and the loss stay float32.
bfloat16 keeps float32's exponent range, so no loss scaling is needed. `precision='auto'` is bfloat16 on a machine
without a GPU whose CPU computes bfloat16 in hardware (AMX or AVX512_BF16), float32 everywhere else
(`resolve_precision`); scripts/train.py binds what it resolves to before the run starts, so a run directory records
the precision its steps computed in.
"""
import gin
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from planet import machine
from planet import tasks

tfd = tfp.distributions
# The images the encoder reads and the decoder draws (App. A: 64 x 64 x 3).
IMAGE_SHAPE = (tasks.IMAGE_SIZE, tasks.IMAGE_SIZE, 3)

ACTIVATIONS = {'relu': tf.nn.relu, 'elu': tf.nn.elu, 'linear': tf.identity}
PRECISIONS = {'float32': tf.float32, 'bfloat16': tf.bfloat16}


def get_activation(name):
  if name not in ACTIVATIONS:
    raise ValueError(f"unknown activation {name!r}: choose one of {', '.join(ACTIVATIONS)}")
  return ACTIVATIONS[name]


AUTO = 'auto'


def resolve_precision(name, bfloat16_units=None, gpus=None):
  """The precision `name` means on this machine: 'auto' -> 'bfloat16' where no GPU is visible and the CPU has
  bfloat16 units (`machine.bfloat16_units()`; given here for tests), else 'float32'; other names as they are."""
  if name != AUTO:
    get_precision(name)
    return name
  units = machine.bfloat16_units() if bfloat16_units is None else bfloat16_units
  gpus = visible_gpus() if gpus is None else gpus
  return 'bfloat16' if units and not gpus else 'float32'


def visible_gpus():
  return tf.config.list_physical_devices('GPU')


def get_precision(name):
  if name == AUTO:
    name = resolve_precision(name)
  if name not in PRECISIONS:
    raise ValueError(f"unknown precision {name!r}: choose one of {', '.join([*PRECISIONS, AUTO])}")
  return PRECISIONS[name]


def _glorot(shape, fan_in, fan_out, name):
  limit = np.sqrt(6.0 / (fan_in + fan_out))
  return tf.Variable(tf.random.uniform(shape, -limit, limit), name=name)


class Dense(tf.Module):

  def __init__(self, in_size, out_size, activation='linear', precision='float32', name=None):
    super().__init__(name=name)
    self.kernel = _glorot([in_size, out_size], in_size, out_size, 'kernel')
    self.bias = tf.Variable(tf.zeros([out_size]), name='bias')
    self.activation = get_activation(activation)
    self._dtype = get_precision(precision)

  def __call__(self, x):
    return self.read()(x)

  def read(self):
    """This layer as a function of x, its weights read now: a loop that calls the result of a `read()` made before
    it captures the weights once, where calling the layer reads them every step (and a gradient through the loop
    then keeps a copy of them per step)."""
    # convert_to_tensor reads the variables here (tf.cast of a variable to its own dtype returns the variable).
    kernel, bias = (tf.cast(tf.convert_to_tensor(t), self._dtype) for t in (self.kernel, self.bias))

    def dense(x):
      x = tf.cast(x, self._dtype)
      y = tf.matmul(x, kernel) if x.shape.rank == 2 else tf.tensordot(x, kernel, 1)
      return self.activation(y + bias)

    return dense


class MLP(tf.Module):
  """`layers` hidden Dense layers of `units` with an activation, then a linear output layer."""

  def __init__(self, in_size, out_size, units, layers, activation, name=None):
    super().__init__(name=name)
    sizes = [in_size] + [units] * layers
    self.hidden = [Dense(a, b, activation) for a, b in zip(sizes[:-1], sizes[1:])]
    self.out = Dense(sizes[-1], out_size)

  def __call__(self, x):
    for layer in self.hidden:
      x = layer(x)
    return self.out(x)


@gin.configurable('transposed_convs')
def rewritten(rewrite=True):
  """Whether `Conv` computes the decoder's transposed convolutions of a 1 x 1 input as one matmul and those marked
  `phases` by `_deconv_by_phases` (default), or all as tf.nn.conv2d_transpose (`transposed_convs.rewrite =
  False`). It changes how a step executes, not what it computes (the same sums up to float rounding), and is read
  when the step is traced, so `scripts/benchmark.py --compare_binding 'transposed_convs.rewrite = False'` times
  both in one process (measured faster on the 2-core AMD CPU and on an H100 with XLA; docs/performance.md)."""
  return rewrite


def _deconv_by_phases(x, weights):
  """tf.nn.conv2d_transpose(x, weights, stride 2, 'VALID') for an even kernel k = 2m, the same sums up to float
  rounding, as one stride-1 convolution over x padded by m - 1 whose 4 x out channels are the output's four phases
  (y[2i + r] = sum_q x[i - q] W[2q + r]), then depth_to_space. The gradient is TensorFlow's own of the transposed
  convolution (the ops its registered gradient emits), so only the forward pass changes."""
  kernel, _, out_ch, in_ch = weights.shape
  m = kernel // 2

  @tf.custom_gradient
  def deconv(x, weights):
    phases = tf.reshape(weights, [m, 2, m, 2, out_ch, in_ch])  # [qh, rh, qw, rw, out, in]: kernel index 2q + r.
    phases = tf.reshape(tf.transpose(tf.reverse(phases, [0, 2]), [0, 2, 5, 1, 3, 4]), [m, m, in_ch, 4 * out_ch])
    padded = tf.pad(x, [[0, 0], [m - 1, m - 1], [m - 1, m - 1], [0, 0]])
    y = tf.nn.depth_to_space(tf.nn.conv2d(padded, phases, 1, 'VALID'), 2)

    def gradient(dy):
      return (tf.nn.conv2d(dy, weights, 2, 'VALID'),
              tf.compat.v1.nn.conv2d_backprop_filter(dy, tf.shape(weights), x, [1, 2, 2, 1], 'VALID'))

    return y, gradient

  return deconv(x, weights)


class Conv(tf.Module):
  """Stride-2 valid convolution, or its transpose (`phases`: computed by `_deconv_by_phases`)."""

  def __init__(self, in_ch, out_ch, kernel, activation, transpose=False, precision='float32', phases=False,
               name=None):
    super().__init__(name=name)
    if phases and (not transpose or kernel % 2):
      raise ValueError(f'phases: only for a transposed convolution with an even kernel, not {kernel}')
    self._phases = phases
    shape = [kernel, kernel, out_ch, in_ch] if transpose else [kernel, kernel, in_ch, out_ch]
    self.kernel = _glorot(shape, kernel * kernel * in_ch, kernel * kernel * out_ch, 'kernel')
    self.bias = tf.Variable(tf.zeros([out_ch]), name='bias')
    self.activation = get_activation(activation)
    self._transpose = transpose
    self._size = (kernel, out_ch)
    self._dtype = get_precision(precision)

  def __call__(self, x):
    x, weights, bias = (tf.cast(t, self._dtype) for t in (x, self.kernel, self.bias))
    rewrite = self._transpose and rewritten()
    if rewrite and x.shape[1] == x.shape[2] == 1:
      # On a 1 x 1 input (the decoder's first layer) the transposed convolution is a dense layer onto the k x k x out
      # map: y[i, j, o] = sum_c x[c] W[i, j, o, c]. As one matmul: the same sums up to float rounding, several times
      # faster on a CPU, whose transposed convolution runs such a layer poorly (docs/performance.md).
      kernel, out_ch = self._size
      in_ch = x.shape[3]
      dense = tf.reshape(tf.transpose(weights, [3, 0, 1, 2]), [in_ch, kernel * kernel * out_ch])
      y = tf.reshape(tf.matmul(tf.reshape(x, [-1, in_ch]), dense), [-1, kernel, kernel, out_ch])
    elif rewrite and self._phases:
      y = _deconv_by_phases(x, weights)
    elif self._transpose:
      kernel, out_ch = self._size
      height = (x.shape[1] - 1) * 2 + kernel
      shape = tf.stack([tf.shape(x)[0], height, height, out_ch])
      y = tf.nn.conv2d_transpose(x, weights, shape, 2, 'VALID')
    else:
      y = tf.nn.conv2d(x, weights, 2, 'VALID')
    return self.activation(y + bias)


def _flatten_time(x, inner_dims):
  """[..., *inner] -> ([N, *inner], leading shape)."""
  leading = tf.shape(x)[:-inner_dims]
  return tf.reshape(x, tf.concat([[-1], tf.shape(x)[-inner_dims:]], 0)), leading


@gin.configurable
class Encoder(tf.Module):
  """World Models conv net: 4 conv layers, kernel 4, stride 2, depth 32/64/128/256 -> 1024-dim embedding."""

  def __init__(self, depth=32, activation='relu', precision='float32', name=None):
    super().__init__(name=name)
    channels = [3, depth, 2 * depth, 4 * depth, 8 * depth]
    self.layers = [Conv(a, b, 4, activation, precision=precision) for a, b in zip(channels[:-1], channels[1:])]
    self.embed_size = 32 * depth  # 2 x 2 x 8 depth for 64 x 64 inputs.

  def __call__(self, image):
    x, leading = _flatten_time(image, 3)
    for layer in self.layers:
      x = layer(x)
    return tf.reshape(tf.cast(x, tf.float32), tf.concat([leading, [self.embed_size]], 0))


@gin.configurable
class Decoder(tf.Module):
  """World Models deconv net: dense to 32 depth, deconvs 128 (k5), 64 (k5), 32 (k6), 3 (k6), stride 2 -> 64x64x3.

  Returns the image likelihood Normal(mean, 1) over every pixel (summed over pixels by Independent).
  """

  def __init__(self, feature_size, depth=32, activation='relu', precision='float32', name=None):
    super().__init__(name=name)
    self.dense = Dense(feature_size, 32 * depth, precision=precision)
    specs = [(32 * depth, 4 * depth, 5, activation), (4 * depth, 2 * depth, 5, activation),
             (2 * depth, depth, 6, activation), (depth, 3, 6, 'linear')]
    # The last layer (3 output channels) by phases: oneDNN's transposed convolution runs its forward pass at a small
    # fraction of the CPU's rate, the phase form at several times that (docs/performance.md).
    self.layers = [Conv(a, b, k, act, transpose=True, precision=precision, phases=index == len(specs) - 1)
                   for index, (a, b, k, act) in enumerate(specs)]

  def __call__(self, features):
    x, leading = _flatten_time(features, 1)
    x = self.dense(x)[:, None, None, :]
    for layer in self.layers:
      x = layer(x)
    mean = tf.reshape(tf.cast(x, tf.float32), tf.concat([leading, IMAGE_SHAPE], 0))
    return tfd.Independent(tfd.Normal(mean, 1.0), reinterpreted_batch_ndims=3)


@gin.configurable
class RewardHead(tf.Module):
  """App. A: two fully connected layers of 200 with ReLU; reward likelihood Normal(mean, 1)."""

  def __init__(self, feature_size, units=200, layers=2, activation='relu', name=None):
    super().__init__(name=name)
    self.mlp = MLP(feature_size, 1, units, layers, activation)

  def __call__(self, features):
    return tfd.Normal(self.mlp(features)[..., 0], 1.0)


class GRUCell(tf.Module):
  """Standard GRU (Cho et al., 2014), reset gate applied before the candidate's matmul, as TF1's GRUCell."""

  def __init__(self, in_size, units, name=None):
    super().__init__(name=name)
    self.gates = Dense(in_size + units, 2 * units)
    # TF1's GRUCell, which the authors' code used, initialises the gate biases to 1 (gates start open).
    self.gates.bias.assign(tf.ones([2 * units]))
    self.candidate = Dense(in_size + units, units)
    self.units = units

  def __call__(self, x, h):
    return self.read()(x, h)

  def read(self):
    """The cell as a function of (x, h), its weights read now (see `Dense.read`)."""
    gates, candidate = self.gates.read(), self.candidate.read()

    def cell(x, h):
      reset, update = tf.split(tf.sigmoid(gates(tf.concat([x, h], -1))), 2, -1)
      return update * h + (1 - update) * tf.tanh(candidate(tf.concat([x, reset * h], -1)))

    return cell


class GaussianLayer(tf.Module):
  """Dense -> (mean, std) of a diagonal Gaussian; std = softplus(x) + min_std (authors' code)."""

  def __init__(self, in_size, size, min_std, name=None):
    super().__init__(name=name)
    self.dense = Dense(in_size, 2 * size)
    self._min_std = min_std

  def __call__(self, x):
    return self.read()(x)

  def read(self):
    """The layer as a function of x, its weights read now (see `Dense.read`)."""
    dense = self.dense.read()

    def gaussian(x):
      mean, std = tf.split(dense(x), 2, -1)
      return mean, tf.nn.softplus(std) + self._min_std

    return gaussian
