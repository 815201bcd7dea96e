"""The task registry (planet/tasks.py): each task's action repeat comes from its gin file."""
import pytest

from planet import config as config_lib
from planet import tasks


def test_each_tasks_action_repeat_is_read_from_its_gin_file(tmp_path):
  """App. A's R is written once, in gin/<task>.gin; the registry reads it there (and the multi-task agent with it)."""
  assert {name: tasks.get(name).action_repeat for name in tasks.names()} == dict(
      cartpole=8, reacher=4, cheetah=4, finger=2, cup=4, walker=2)
  (tmp_path / 'silent.gin').write_text("train.task = 'silent'\n")
  task = tasks.Task('silent', 'cartpole', 'balance', 'Silent', gin_file=str(tmp_path / 'silent.gin'))
  with pytest.raises(config_lib.ConfigError, match='silent.gin binds no make_env.action_repeat'):
    _ = task.action_repeat
