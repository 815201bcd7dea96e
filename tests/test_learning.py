"""Learning signal: on a fixed set of recorded fake-env data the world-model loss falls clearly."""
import gin
import numpy as np
import tensorflow as tf

from conftest import tiny_gin
from planet import agent as agent_lib
from planet import cli
from planet import envs
from planet import replay as replay_lib
from planet import training
from planet import world_model


def test_world_model_loss_falls_on_fixed_data(tmp_path):
  cli.parse([], tiny_gin())
  env = envs.FakeEnv(seed=0, max_env_steps=40)
  rng = np.random.RandomState(0)
  replay = replay_lib.Replay(str(tmp_path))
  for i in range(4):
    replay.add(training.run_episode(env, agent_lib.RandomAgent(1, rng), np.array([0, i]), explore=True))
  model = world_model.WorldModel(1)
  learner = world_model.Learner(model, batch_size=4, length=10)
  batches = [replay.sample(4, 10, rng) for _ in range(8)]
  losses = []
  for step in range(300):
    out = learner.train_step(batches[step % len(batches)], tf.constant([0, step]))
    losses.append(float(out['loss']))
  # The image NLL under Normal(mean, 1) has a floor of 0.5 ln(2 pi) per pixel; compare what lies above it.
  floor = 0.5 * np.log(2 * np.pi) * 64 * 64 * 3
  first, last = np.mean(losses[:10]) - floor, np.mean(losses[-10:]) - floor
  assert np.isfinite(losses).all()
  assert last < 0.4 * first, (first, last)
  assert learner.traces == 1
