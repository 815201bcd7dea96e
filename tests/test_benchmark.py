"""The hot paths' timings (planet/measure/benchmark.py, scripts/benchmark.py) end to end with tiny sizes, and the GPU
memory record."""
import json
import subprocess
import sys

import pytest

from conftest import ROOT
from planet import machine
from planet.measure import benchmark


@pytest.mark.slow
def test_benchmark_script_tiny(tmp_path):
  out = tmp_path / 'bench.jsonl'
  result = subprocess.run([sys.executable, 'scripts/benchmark.py', '--tiny', '--tasks', 'cartpole',
                           '--repeats', '2', '--out', str(out), '--profile'], cwd=ROOT, capture_output=True,
                          timeout=600)
  assert result.returncode == 0, result.stderr.decode()[-3000:]
  rows = [json.loads(line) for line in open(out)]
  names = [row['name'] for row in rows]
  assert names == ['matmul_flop_rate', 'train_step_first_call', 'train_step', 'train_step_device_batch',
                   'train_convs', 'train_rssm', 'train_optimizer', 'plan_first_call', 'plan_matmuls_alone',
                   'plan_call', 'plan_call_op_profile', 'update_step', 'env_step_cartpole',
                   'training_episode_cartpole']
  by_name = {row['name']: row for row in rows}
  for row in rows:
    assert row['value'] > 0 and row['device'] and row['tf_version']
  assert 0 < rows[2]['fraction_of_matmul'] and 0 <= rows[-1]['outside_compiled_share'] <= 1
  plan = by_name['plan_call']
  assert plan['matmuls_alone_share'] == pytest.approx(by_name['plan_matmuls_alone']['value'] / plan['value'],
                                                      rel=1e-3)
  # Each part of the train step is read as a share of the whole step (the whole being measured in this run).
  for part in ('train_convs', 'train_rssm', 'train_optimizer'):
    assert by_name[part]['share_of_step'] == pytest.approx(by_name[part]['value'] / rows[2]['value'], rel=1e-3)
  copy = by_name['train_step_device_batch']
  assert copy['input_copy_share'] == pytest.approx(1 - copy['value'] / rows[2]['value'], rel=1e-3, abs=1e-3)
  assert copy['batch_on'].endswith('CPU:0')  # Where the step runs: no GPU on the test machines.
  # The profile names the plan graph's op types; the busy time excludes the threads' idle time.
  profile = by_name['plan_call_op_profile']
  ops = profile['ops']
  assert any('MatMul' in op for op in ops) and profile['value'] == pytest.approx(
      sum(ms for op, ms in ops.items() if op != 'IDLE'), abs=0.01 * len(ops))
  # This run is printed beside the committed records, each column named by its machine.
  stdout = result.stdout.decode()
  assert f"this run: {rows[0]['device']}" in stdout


def test_gpu_memory_peak_is_a_record_on_a_gpu_only(monkeypatch, tmp_path):
  rows = benchmark.run(tiny=True, skip=benchmark.PARTS, committed_dir=str(tmp_path))
  assert rows == []  # No GPU on the test machines: no memory record.
  monkeypatch.setattr(machine, 'gpu_memory_peak_mib', lambda tf: 2048.5)
  rows = benchmark.run(tiny=True, skip=benchmark.PARTS, committed_dir=str(tmp_path))
  assert [(row['name'], row['value'], row['unit']) for row in rows] == [('gpu_memory_peak', 2048.5, 'MiB')]
