"""CEM with the true simulator: batched-rollout rewards equal env rewards on all six tasks; CEM beats random;
a warm start starts from the given plan; the start states' hit rates."""

import numpy as np
import pytest

from planet import tasks
from planet.experiments import matrix
from planet.experiments import true_sim
from planet.experiments import true_sim_episodes


def _prepare(sim, task):
  """Start states where the sparse rewards are reachable, so that equality is not 0 == 0."""
  physics = sim.env.physics
  if task == 'reacher':  # Move the target under the finger (a model change, mirrored by TrueSimulator.state).
    physics.named.model.geom_pos['target'][:2] = physics.named.data.geom_xpos['finger'][:2]
  if task == 'finger':
    physics.named.data.qvel['hinge'] = -40.0  # Spinning fast: reward 1 while it lasts.
  if task == 'cup':
    # Move the ball onto the cup's target site and give it the cup's velocity: it starts inside the cup.
    offset = physics.named.data.site_xpos['target'] - physics.named.data.xpos['ball']
    physics.named.data.qpos['ball_x'] += offset[0]
    physics.named.data.qpos['ball_z'] += offset[2]
    physics.named.data.qvel['ball_x'] = physics.named.data.qvel['cup_x']
    physics.named.data.qvel['ball_z'] = physics.named.data.qvel['cup_z']
  physics.forward()


@pytest.mark.parametrize('task', tasks.names())
def test_rollout_rewards_equal_env_rewards(task):
  rng = np.random.RandomState(0)
  sim = true_sim.TrueSimulator(task, seed=3, threads=2)
  sim.reset()
  for _ in range(2):
    sim.step(rng.uniform(-1, 1, sim.action_size))
  _prepare(sim, task)
  actions = rng.uniform(-1, 1, (3, 4, sim.action_size))
  predicted = sim.rewards(sim.state(), actions)
  assert predicted.shape == (3, 4 * sim.action_repeat)
  physics = sim.env.physics
  start = physics.get_state().copy()
  for j in range(3):
    with physics.reset_context():
      physics.set_state(start)
    actual = [sim.env.step(a).reward for a in actions[j] for _ in range(sim.action_repeat)]
    np.testing.assert_allclose(predicted[j], actual, atol=1e-9)
  if task != 'cheetah':  # Cheetah's reward stays 0 below a forward speed random actions never reach.
    assert predicted.sum() > 0  # A non-trivial comparison.


def test_true_sim_cem_beats_random_on_short_cartpole():
  sim = true_sim.TrueSimulator('cartpole', threads=2, max_env_steps=240)
  settings = matrix.CemSettings(horizon=10, iterations=3, candidates=150, top_k=15)
  planned = true_sim_episodes.play_episode(sim, settings, seed=0)
  rng = np.random.RandomState(0)
  sim.reset(0)
  random_return, done = 0.0, False
  while not done:
    reward, done = sim.step(rng.uniform(-1, 1, 1))
    random_return += reward
  assert planned > 2 * random_return + 5, (planned, random_return)


def test_warm_start_starts_the_search_from_the_given_plan():
  sim = true_sim.TrueSimulator('cartpole', threads=1)
  sim.reset()
  settings = matrix.CemSettings(horizon=3, iterations=1, candidates=2000, top_k=2000)  # Refit = sample mean.
  init = np.array([[0.5], [-0.5], [0.0]])
  rng = np.random.RandomState(0)
  warm = true_sim.cem_plan(sim, sim.state(), settings, rng, 'std', init_mean=init)
  cold = true_sim.cem_plan(sim, sim.state(), settings, rng, 'std')
  # Samples N(init, 1) clipped to [-1, 1] have means of about +-0.33 and 0 (clipping pulls them in).
  np.testing.assert_allclose(warm[:, 0], [0.33, -0.33, 0.0], atol=0.06)
  np.testing.assert_allclose(cold[:, 0], [0.0, 0.0, 0.0], atol=0.06)


def test_start_hit_rates_gives_a_share_per_seed():
  lines = true_sim.start_hit_rates('cartpole', 2, candidates=20, horizon=3)
  assert [line.split(':')[0] for line in lines] == ['cartpole seed 0', 'cartpole seed 1']
  assert all('100.0% of 20' in line for line in lines)  # Cartpole's smooth reward is positive everywhere.
