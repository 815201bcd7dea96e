import os

import pytest

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


@pytest.fixture(autouse=True)
def _clear_gin():
  import gin
  gin.clear_config()
  yield
  gin.clear_config()


def tiny_gin(extra=()):
  """Tiny model and planner sizes, shared by the tests."""
  return [
      'RSSM.deterministic_size = 16', 'RSSM.stochastic_size = 4', 'RSSM.hidden_size = 16',
      'Encoder.depth = 4', 'Decoder.depth = 4', 'RewardHead.units = 16',
      'cem_plan.horizon = 3', 'cem_plan.iterations = 2', 'cem_plan.candidates = 20', 'cem_plan.top_k = 5',
      *extra]
