"""gin/gpu.gin (XLA) works without a GPU: both hot functions compile once and compute what they compute without it.

XLA draws other stateless random numbers than the TF kernels (its own choice of generator), so the check is
"equal up to the random draws": the first loss, dominated by the deterministic image likelihood, within 1e-4.
"""
import gin
import numpy as np
import tensorflow as tf

from conftest import tiny_gin
from planet import agent as agent_lib
from planet import config as config_lib
from planet import envs
from planet import rollout
from planet import world_model


def test_xla_train_and_act_steps_compile_once_and_match_plain_graphs():
  env = envs.FakeEnv(seed=0, max_env_steps=40)
  episode = rollout.run_episode(env, agent_lib.RandomAgent(1, np.random.RandomState(0)), np.array([0, 0]), True)
  batch = {key: np.stack([episode[key][i:i + 10] for i in (0, 5)]) for key in ('image', 'action', 'reward')}
  results = {}
  for overlay in ([], ['gin/gpu.gin']):
    gin.clear_config()
    config_lib.parse(overlay, tiny_gin())
    tf.random.set_seed(0)  # The same initial weights for both.
    model = world_model.WorldModel(1)
    learner, agent = world_model.Learner(model, batch_size=2, length=10), agent_lib.Agent(model)
    losses = [learner.train_step(batch, tf.constant([0, step])) for step in range(3)]
    actions = [agent.act({'image': episode['image'][t]}, np.array([0, t]), explore=True) for t in range(3)]
    assert learner.traces == 1 and agent.traces == 1
    assert all(np.isfinite(float(out['loss'])) for out in losses)
    assert all(a.shape == (1,) and np.all(np.abs(a) <= 1) for a in actions)
    results[bool(overlay)] = {key: float(value) for key, value in losses[0].items()}
  assert config_lib.query('Learner.jit_compile') and config_lib.query('Agent.jit_compile')
  plain, xla = results[False], results[True]
  np.testing.assert_allclose(xla['loss'], plain['loss'], rtol=1e-4)
  np.testing.assert_allclose(xla['image_loss'], plain['image_loss'], rtol=1e-4)
  np.testing.assert_allclose(xla['grad_norm'], plain['grad_norm'], rtol=1e-3)
