"""gin/mixed_precision.gin: the conv nets compute in bfloat16, hand float32 on, and train like float32."""
import gin
import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_gin
from planet import agent as agent_lib
from planet import config as config_lib
from planet import envs
from planet import networks
from planet import replay as replay_lib
from planet import rollout
from planet import world_model

BF16 = ["Encoder.precision = 'bfloat16'", "Decoder.precision = 'bfloat16'"]


def _copy(source, target):
  for a, b in zip(source.trainable_variables, target.trainable_variables):
    b.assign(a)


def test_bfloat16_nets_return_float32_close_to_but_not_equal_to_float32():
  image = tf.random.uniform([2, 3, 64, 64, 3], -0.5, 0.5, seed=1)
  enc32, enc16 = networks.Encoder(depth=4), networks.Encoder(depth=4, precision='bfloat16')
  dec32, dec16 = networks.Decoder(8, depth=4), networks.Decoder(8, depth=4, precision='bfloat16')
  _copy(enc32, enc16)
  _copy(dec32, dec16)
  embed32, embed16 = enc32(image), enc16(image)
  mean32, mean16 = dec32(embed32[..., :8]).mean(), dec16(embed32[..., :8]).mean()
  for full, half in ((embed32, embed16), (mean32, mean16)):
    assert half.dtype == tf.float32 and half.shape == full.shape
    error = np.abs(half - full).max() / np.abs(full).max()
    assert 0 < error < 0.05, error  # bfloat16 has an 8-bit mantissa: close, but computed differently.
  with pytest.raises(ValueError, match='unknown precision'):
    networks.Encoder(precision='float16')


def test_overlay_sets_both_conv_nets():
  config_lib.parse(['gin/cartpole.gin', 'gin/mixed_precision.gin'], [])
  assert config_lib.query('Encoder.precision') == 'bfloat16' and config_lib.query('Decoder.precision') == 'bfloat16'


@pytest.mark.slow
def test_bfloat16_losses_match_float32_within_noise(tmp_path):
  """Same init, same batches: bfloat16 ends as close to float32 as float32 with other noise draws does."""
  env = envs.FakeEnv(seed=0, max_env_steps=40)
  rng = np.random.RandomState(0)
  replay = replay_lib.Replay(str(tmp_path))
  for i in range(4):
    replay.add(rollout.run_episode(env, agent_lib.RandomAgent(1, rng), np.array([0, i]), explore=True))
  batches = [replay.sample(4, 10, rng) for _ in range(8)]
  floor = 0.5 * np.log(2 * np.pi) * 64 * 64 * 3  # The image NLL's constant under Normal(mean, 1).

  def train(extra, stream, steps=300):
    gin.clear_config()
    config_lib.parse([], tiny_gin(extra))
    tf.random.set_seed(0)  # Same initial weights for every run.
    learner = world_model.Learner(world_model.WorldModel(1), batch_size=4, length=10)
    losses = [float(learner.train_step(batches[s % 8], tf.constant([stream, s]))['loss']) - floor
              for s in range(steps)]
    return np.mean(losses[:5]), np.mean(losses[-50:])

  first, full = train([], 0)
  _, full_other_noise = train([], 1)
  _, half = train(BF16, 0)
  assert full < 0.4 * first and half < 0.4 * first
  noise = abs(full - full_other_noise)
  assert abs(half - full) <= max(noise, 0.02 * full), (full, full_other_noise, half)
