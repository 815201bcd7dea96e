"""Wrappers, each written once, that make a task (`reset(seed)`, `act(action) -> (reward, last)`, `observe()`; see
planet.envs) an agent's env: `TimeLimit` ends an episode after a number of control steps, `ActionRepeat` repeats an
action R times and observes once (so only every R-th frame is rendered), `PaddedActions` pads the action space of
an env (one agent for all tasks, Figs. 6-7)."""
import numpy as np


class TimeLimit:
  """Ends the episode after `max_env_steps` control steps (App. A: 1000). A task-level wrapper."""

  def __init__(self, task, max_env_steps):
    self._task = task
    self.max_env_steps = max_env_steps
    self.env_steps = 0

  def __getattr__(self, name):
    return getattr(self._task, name)

  def reset(self, seed=None):
    self.env_steps = 0
    self._task.reset(seed)

  def act(self, action):
    reward, last = self._task.act(action)
    self.env_steps += 1
    return reward, last or self.env_steps >= self.max_env_steps


class ActionRepeat:
  """The agent's env: each action is repeated R times (App. A), rewards summed, the episode's last step honoured,
  and the task observed once per agent step. Holds a task (with `act`/`observe`), usually inside a TimeLimit."""

  def __init__(self, task, action_repeat):
    self._task = task
    self.name = task.name
    self.action_repeat = action_repeat
    self.action_size = task.action_size
    self.action_low, self.action_high = task.action_low, task.action_high

  def reset(self, seed=None):
    self._task.reset(seed)
    return self._task.observe()

  def step(self, action):
    reward, done = 0.0, False
    for _ in range(self.action_repeat):
      step_reward, done = self._task.act(action)
      reward += step_reward
      if done:
        break
    return self._task.observe(), float(reward), done, {'env_steps': getattr(self._task, 'env_steps', None)}

  def close(self):
    self._task.close()


class PaddedActions:
  """Pads an env's action space with unused dimensions to `action_size` (one agent for all tasks, Figs. 6-7).

  The agent acts in the padded space; the env receives the first `env.action_size` entries.
  """

  def __init__(self, env, action_size):
    if action_size < env.action_size:
      raise ValueError(f'cannot pad {env.action_size} action dimensions down to {action_size}')
    self._env = env
    self.name = env.name
    self.action_repeat = env.action_repeat
    self.action_size = action_size
    self.used_action_size = env.action_size

  def reset(self, seed=None):
    return self._env.reset(seed=seed)

  def step(self, action):
    return self._env.step(np.asarray(action)[:self.used_action_size])

  def close(self):
    self._env.close()
