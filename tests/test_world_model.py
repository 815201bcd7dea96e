"""The world model (planet/world_model.py) and the agent: the train step and the acting step are traced once."""
import numpy as np
import tensorflow as tf

from conftest import tiny_gin
from planet import config as config_lib
from planet import world_model


def test_train_step_and_act_trace_once():
  from planet import agent as agent_lib
  config_lib.parse([], tiny_gin())
  model = world_model.WorldModel(2)
  learner = world_model.Learner(model, batch_size=2, length=4)
  batch = {'image': np.zeros((2, 4, 64, 64, 3), np.uint8), 'action': np.zeros((2, 4, 2), np.float32),
           'reward': np.zeros((2, 4), np.float32)}
  for step in range(3):
    learner.train_step(batch, tf.constant([0, step]))
  assert learner.traces == 1
  agent = agent_lib.Agent(model)
  for step in range(3):
    action = agent.act({'image': np.zeros((64, 64, 3), np.uint8)}, np.array([0, step]), explore=step % 2 == 0)
    assert action.shape == (2,) and np.all(np.abs(action) <= 1)
  agent.reset()
  agent.act({'image': np.zeros((64, 64, 3), np.uint8)}, np.array([0, 9]), explore=False)
  assert agent.traces == 1
