"""Preprocessing (planet/preprocess.py): 5-bit quantization and its round trip."""
import numpy as np
import tensorflow as tf

from planet import preprocess


def test_preprocess_quantizes_to_5_bits_and_round_trips():
  image = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
  x = preprocess.preprocess(image, tf.constant([0, 1])).numpy()
  assert x.dtype == np.float32 and x.min() >= -0.5 and x.max() < 0.5
  # Noise stays inside the quantization bin: floor(x) bins equal the 5-bit levels.
  np.testing.assert_array_equal(np.floor((x + 0.5) * 32), image // 8)
  np.testing.assert_array_equal(preprocess.postprocess(x), (image // 8) * 8)
  # Dequantization noise is really there (not a constant offset).
  assert np.std((x + 0.5) * 32 - image // 8) > 0.2
