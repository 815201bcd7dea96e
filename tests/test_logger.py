"""Run outputs (planet/logger.py): the progress bar's time left comes from planned episodes only."""
from planet import logger


def test_time_left_is_paced_by_the_planned_episodes_alone():
  bar = logger.EpisodeProgress('cartpole', total=10, done=4, enabled=True)
  try:
    assert bar.on_update(100) is not None
    bar.episode_done({'collect_time': 1.0, 'train_return': 3.0}, done=5, planned=False)  # A quick random episode.
    assert 'left' not in bar.bar.postfix
    bar.episode_done({'update_time': 50.0, 'collect_time': 10.0, 'test_time': 30.0, 'loss': 2.5}, done=6, planned=True)
    assert bar.bar.postfix == 'loss=2.5, left=~0h06m'  # 90 s an episode, 4 episodes left.
  finally:
    bar.close()
  assert logger.EpisodeProgress('cartpole', total=10, done=0, enabled=False).on_update(100) is None
