"""Image preprocessing of App. A: 5-bit quantization with dequantization noise (Kingma & Dhariwal, 2018).

x_uint8 -> floor(x / 2^(8-bits)) / 2^bits + uniform(0, 2^-bits) - 0.5, the same when training and acting.
"""
import numpy as np
import tensorflow as tf


def preprocess(image, seed, bits=5):
  """uint8 images of any shape -> float32 in [-0.5, 0.5) with dequantization noise; `seed` is a [2] int tensor."""
  bins = 2 ** bits
  x = tf.floor(tf.cast(image, tf.float32) / 2 ** (8 - bits)) / bins
  noise = tf.random.stateless_uniform(tf.shape(x), seed, 0.0, 1.0 / bins)
  return x + noise - 0.5


def postprocess(x, bits=5):
  """Model-space images -> uint8 pictures (numpy), the inverse of `preprocess` up to quantization."""
  bins = 2 ** bits
  levels = np.clip(np.floor((np.asarray(x, np.float32) + 0.5) * bins), 0, bins - 1)
  return (levels * 2 ** (8 - bits)).astype(np.uint8)


def comparison(truth, prediction, bits=5):
  """Fig. 10 rows from model-space images [T, H, W, 3]: truth, prediction, |difference| as uint8 [3, T, H, W, 3]."""
  truth, prediction = np.asarray(truth), np.asarray(prediction)
  return np.stack([postprocess(truth, bits), postprocess(prediction, bits),
                   postprocess(np.abs(prediction - truth) - 0.5, bits)])
