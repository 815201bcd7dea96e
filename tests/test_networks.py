"""Networks (planet/networks.py): encoder, decoder and reward head shapes; the decoder's rewritten transposed
convolutions against TensorFlow's."""
import gin
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from planet import networks

tfd = tfp.distributions


def test_encoder_decoder_reward_shapes():
  encoder = networks.Encoder(depth=4)
  image = tf.zeros([2, 3, 64, 64, 3])
  embed = encoder(image)
  assert embed.shape == (2, 3, 128) and embed.dtype == tf.float32
  decoder = networks.Decoder(feature_size=10, depth=4)
  dist = decoder(tf.zeros([2, 3, 10]))
  assert isinstance(dist, tfd.Independent)
  assert dist.mean().shape == (2, 3, 64, 64, 3)
  assert dist.log_prob(image).shape == (2, 3)
  reward = networks.RewardHead(10, units=8)(tf.zeros([2, 3, 10]))
  assert isinstance(reward, tfd.Normal) and reward.mean().shape == (2, 3)


@pytest.mark.parametrize('precision', ['float32', 'bfloat16'])
@pytest.mark.parametrize('size, kernel, phases', [(1, 5, False), (4, 6, True), (3, 4, True)])
def test_transposed_convs_computed_otherwise_are_the_same_as_tensorflows(size, kernel, phases, precision):
  # The decoder's first layer (a 1 x 1 input) runs as one matmul and its last one by phases (networks.Conv): their
  # values and gradients must be those of tf.nn.conv2d_transpose with the same kernel, up to float rounding.
  layer = networks.Conv(12, 5, kernel, 'relu', transpose=True, precision=precision, phases=phases)
  out = (size - 1) * 2 + kernel
  x = tf.random.stateless_normal([7, size, size, 12], [1, 2])
  with tf.GradientTape(persistent=True) as tape:
    tape.watch(x)
    y = layer(x)
    dtype = networks.get_precision(precision)
    reference = tf.nn.relu(tf.nn.conv2d_transpose(tf.cast(x, dtype), tf.cast(layer.kernel, dtype), [7, out, out, 5],
                                                  2, 'VALID') + tf.cast(layer.bias, dtype))
    weights = tf.random.stateless_normal([7, out, out, 5], [3, 4])
    loss, reference_loss = (tf.reduce_sum(tf.cast(v, tf.float32) * weights) for v in (y, reference))
  tolerance = dict(rtol=1e-5, atol=1e-5) if precision == 'float32' else dict(rtol=2e-2, atol=5e-2)
  assert y.shape == (7, out, out, 5) and y.dtype == dtype
  np.testing.assert_allclose(tf.cast(y, tf.float32), tf.cast(reference, tf.float32), **tolerance)
  for got, want in zip(tape.gradient(loss, [x, layer.kernel, layer.bias]),
                       tape.gradient(reference_loss, [x, layer.kernel, layer.bias])):
    np.testing.assert_allclose(got, want, **tolerance)
  # Switched off, the layer is tf.nn.conv2d_transpose itself, bit for bit.
  gin.parse_config('transposed_convs.rewrite = False')
  np.testing.assert_array_equal(tf.cast(layer(x), tf.float32), tf.cast(reference, tf.float32))


def test_paper_size_encoder_embeds_1024():
  assert networks.Encoder().embed_size == 1024
  assert networks.Encoder()(tf.zeros([1, 64, 64, 3])).shape == (1, 1024)
