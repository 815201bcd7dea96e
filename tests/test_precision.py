"""float32 against bfloat16 (planet/measure/precision.py, scripts/compare_precision.py) with tiny sizes."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from planet import agent as agent_lib
from planet import envs
from planet import replay as replay_lib
from planet import rollout


@pytest.mark.slow
def test_compare_precision_script_tiny(tmp_path):
  env = envs.FakeEnv(seed=0, max_env_steps=40)
  rng = np.random.RandomState(0)
  for i in range(2):
    replay_lib.save_episode(str(tmp_path / 'episodes'), i,
                            rollout.run_episode(env, agent_lib.RandomAgent(1, rng), np.array([0, i]), True))
  out = tmp_path / 'precision.jsonl'
  result = subprocess.run([sys.executable, 'scripts/compare_precision.py', '--episodes', str(tmp_path / 'episodes'),
                           '--gin_file=gin/cartpole.gin', '--gin_file=gin/debug.gin', '--steps', '8',
                           '--out', str(out)], cwd=ROOT, capture_output=True, timeout=600)
  assert result.returncode == 0, result.stderr.decode()[-3000:]
  rows = {row['name']: row for row in map(json.loads, open(out))}
  assert sorted(rows) == ['bfloat16', 'float32', 'float32_other_noise']
  assert rows['bfloat16']['gin_files'][-1] == 'gin/mixed_precision.gin'
  for row in rows.values():
    assert row['steps'] == 8 and row['batch_size'] == 2 and np.isfinite(row['loss_last']) and row['step_seconds'] > 0
  # Same weights and batches, other noise draws: another loss from the first step on.
  assert rows['float32']['loss_first'] != rows['float32_other_noise']['loss_first']
