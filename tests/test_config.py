"""Configuration in (planet/config.py): a bad binding, an impossible setting or a missing file is one ConfigError
line that names it."""
import pytest

from planet import config as config_lib


@pytest.mark.parametrize('binding, rule', [
    ('train.total_episodes = 0', 'a positive count'), ('train.seed_episodes = 0', 'at least 1'),
    ('train.collect_interval = -1', 'a positive count of updates'), ('train.batch_size = 0', 'a positive size'),
    ('train.chunk_length = 0', 'a positive length'), ('train.test_every = 0', 'a positive count of episodes'),
    ('train.video_every = -1', '0 (off) or a positive count'), ('make_env.action_repeat = 0', 'a positive count'),
    ('cem_plan.horizon = 0', 'a positive length'), ('cem_plan.iterations = 0', 'a positive count'),
    ('cem_plan.candidates = -5', 'a positive count'), ('cem_plan.top_k = 0', 'between 1 and cem_plan.candidates'),
    ('cem_plan.discount = 1.5', 'in (0, 1]'), ('WorldModel.free_nats = -1.0', 'non-negative'),
    ('WorldModel.image_bits = 9', 'between 1 and 8'), ('WorldModel.overshooting = 0', 'a distance D >= 1'),
    ('RSSM.stochastic_size = 0', 'a positive size'), ('Adam.learning_rate = 0.0', 'positive'),
    ('Agent.exploration_noise = -0.3', 'a non-negative standard deviation')])
def test_impossible_settings_are_refused_naming_binding_value_and_rule(binding, rule):
  key, value = (part.strip() for part in binding.split('='))
  with pytest.raises(config_lib.ConfigError) as error:
    config_lib.configure(['gin/cartpole.gin', 'gin/debug.gin'], [binding], logdir='unused')
  assert str(error.value).startswith(f'bad gin configuration: {key} = {value}, but it must be {rule}')
  # The same files without it are fine.
  config_lib.configure(['gin/cartpole.gin', 'gin/debug.gin'], [], logdir='unused')


def test_bad_gin_binding_gives_clear_error():
  with pytest.raises(config_lib.ConfigError, match="bad gin configuration.*'RSSM'.*'not_a_parameter'"):
    config_lib.parse([], ['RSSM.not_a_parameter = 3'])
  with pytest.raises(config_lib.ConfigError, match='bad gin configuration'):
    config_lib.parse([], ['NoSuchThing.size = 3'])
  with pytest.raises(config_lib.ConfigError, match='not found'):
    config_lib.parse(['gin/nope.gin'], [])
