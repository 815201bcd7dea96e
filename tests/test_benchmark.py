"""scripts/benchmark.py runs end to end with tiny sizes and writes well-formed JSON lines."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'scripts'))

import benchmark  # pylint: disable=wrong-import-position


def test_flop_counts_match_hand_computation():
  # First encoder layer at depth 32: 31x31 outputs, 4x4x3 kernel, 32 filters, 2 FLOPs per multiply-add.
  assert benchmark.conv_flops(64, 3, 32, 4, False) == 2 * 31 * 31 * 4 * 4 * 3 * 32
  # Last decoder layer: 30x30 inputs, each scattering a 6x6x3 patch from 32 channels.
  assert benchmark.conv_flops(30, 32, 3, 6, True) == 2 * 30 * 30 * 6 * 6 * 32 * 3
  paper = dict(stoch=30, deter=200, hidden=200, depth=32, reward_units=200, reward_layers=2, batch=50, length=50,
               action=1, candidates=1000, horizon=12, iterations=10)
  assert 0.55e12 < benchmark.train_step_flops(paper) < 0.65e12  # ~0.59 TFLOP (DEVELOPERS.md)
  assert 85e9 < benchmark.plan_flops(paper) < 95e9  # ~90 GFLOP


@pytest.mark.slow
def test_benchmark_script_tiny(tmp_path):
  out = tmp_path / 'bench.jsonl'
  result = subprocess.run([sys.executable, 'scripts/benchmark.py', '--tiny', '--tasks', 'cartpole',
                           '--repeats', '2', '--out', str(out)], cwd=ROOT, capture_output=True, timeout=600)
  assert result.returncode == 0, result.stderr.decode()[-3000:]
  rows = [json.loads(line) for line in open(out)]
  names = [row['name'] for row in rows]
  assert names == ['matmul_flop_rate', 'train_step_first_call', 'train_step', 'plan_first_call', 'plan_call',
                   'env_step_cartpole', 'training_episode_cartpole']
  for row in rows:
    assert row['value'] > 0 and row['device'] and row['tf_version']
  assert 0 < rows[2]['fraction_of_matmul'] and 0 <= rows[-1]['outside_compiled_share'] <= 1
