"""Learning signal: the world-model loss falls on fixed data, and a learned model lets CEM solve the fake task."""
import numpy as np
import pytest
import tensorflow as tf

from conftest import tiny_gin
from planet import agent as agent_lib
from planet import config as config_lib
from planet import envs
from planet import replay as replay_lib
from planet import rollout
from planet import world_model


def test_world_model_loss_falls_on_fixed_data(tmp_path):
  config_lib.parse([], tiny_gin())
  env = envs.FakeEnv(seed=0, max_env_steps=40)
  rng = np.random.RandomState(0)
  replay = replay_lib.Replay(str(tmp_path))
  for i in range(4):
    replay.add(rollout.run_episode(env, agent_lib.RandomAgent(1, rng), np.array([0, i]), explore=True))
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


@pytest.mark.slow
def test_learned_model_and_planner_solve_the_fake_task(tmp_path):
  """End to end: a world model trained on random fake-env episodes lets CEM steer the point to the centre."""
  tf.random.set_seed(0)  # The initial weights: the same model whatever ran before in this process.
  config_lib.parse([], tiny_gin(['RSSM.deterministic_size = 32', 'RSSM.hidden_size = 32', 'RSSM.stochastic_size = 8',
                                 'Encoder.depth = 8', 'Decoder.depth = 8', 'RewardHead.units = 32',
                                 'cem_plan.candidates = 200', 'cem_plan.iterations = 5', 'cem_plan.top_k = 20',
                                 'cem_plan.horizon = 6']))
  env = envs.FakeEnv(seed=0, max_env_steps=60)
  rng = np.random.RandomState(0)
  replay = replay_lib.Replay(str(tmp_path))
  random_agent = agent_lib.RandomAgent(1, rng)
  for i in range(20):
    replay.add(rollout.run_episode(env, random_agent, np.array([0, i]), explore=True))
  model = world_model.WorldModel(1)
  learner = world_model.Learner(model, batch_size=16, length=10)
  for step in range(1000):
    learner.train_step(replay.sample(16, 10, rng), tf.constant([0, step]))
  agent = agent_lib.Agent(model)
  for start, sign in ((-0.8, 1), (0.8, -1)):  # The reward 1 - |x| is highest at the centre.
    obs = envs.FakeEnv(start=start).reset()
    agent.reset()
    assert sign * agent.act(obs, np.array([0, 0]), explore=False)[0] > 0.5
  # Score from far starts, where doing nothing or acting at random loses much of the best return of 60.
  starts = (-0.9, -0.7, 0.7, 0.9)

  def mean_return(policy, repeats=1):
    return np.mean([rollout.run_episode(envs.FakeEnv(max_env_steps=60, start=start), policy,
                                         np.array([1, k]), False)['reward'].sum()
                    for k, start in enumerate(starts * repeats)])

  planned, random = mean_return(agent), mean_return(random_agent, repeats=4)
  best = mean_return(_GreedyToCentre())
  assert best > 55  # Sanity check of the reference: full speed to the centre, then stay.
  # CI machines differ in float rounding, so the trained model differs: ask for a clear margin, not a tight bound.
  assert planned - random > 0.5 * (best - random), (planned, random, best)


class _GreedyToCentre:
  """The best policy of the fake task: full speed towards the centre, then stop there."""

  def reset(self):
    pass

  def act(self, obs, seed, explore):
    del seed, explore
    return -np.clip(obs['qpos'][:1] / 0.2, -1, 1).astype(np.float32)
