"""A/B comparisons (planet/measure/ab.py): a gin binding's two variants in one process, XLA settings a process each."""
import json
import subprocess
import sys

import pytest

import planet
from conftest import ROOT
from planet.measure import ab


def test_compare_binding_times_both_variants_in_one_process(tmp_path):
  # The A/B traces the hot functions without and with the binding (the unrolled train step has no while loop
  # left, so the binding took) and reads B against A.
  out = tmp_path / 'ab.jsonl'
  rows = ab.compare_binding('time_loop.unroll = True', out=str(out), tiny=True, rounds=2)
  assert [row['name'] for row in rows] == ['ab_train_step', 'ab_plan_call']
  assert [json.loads(line)['name'] for line in open(out)] == ['ab_train_step', 'ab_plan_call']
  train, plan = rows
  # The train step's forward and gradient loops go; the acting step keeps the CEM's iteration loop only (its
  # one-step filter and the imagined rollout are written out).
  assert train['while_ops'] == [2, 0] and plan['while_ops'] == [3, 1] and train['binding'] == 'time_loop.unroll = True'
  # Scoped to the train step, the binding leaves the acting step as it is.
  scoped = ab.compare_binding('train_step/time_loop.unroll = True', tiny=True, rounds=1)
  assert [row['while_ops'] for row in scoped] == [[2, 0], [3, 3]]
  for row in rows:
    assert row['ratio'] == pytest.approx(row['value'] / row['baseline'], rel=1e-3)
    assert row['rounds'] == 2 and row['first_call'] > 0 and row['baseline_first_call'] > 0


def test_xla_settings_split_and_the_options_passed_on():
  assert ab.split_settings('no_cmdbuf,--xla_gpu_enable_command_buffer=+WHILE,+CONDITIONAL,cublaslt') == [
      'no_cmdbuf', '--xla_gpu_enable_command_buffer=+WHILE,+CONDITIONAL', 'cublaslt']
  assert ab.split_settings('no_cmdbuf,fastest') == ['no_cmdbuf', 'fastest']  # Refused by name later.
  assert ab.xla_setting_flags('no_cmdbuf') == '--xla_gpu_enable_command_buffer=-WHILE,-CONDITIONAL'
  assert ab.xla_setting_flags('--xla_foo=1') == '--xla_foo=1'
  argv = ['--jit', '--xla_settings', 'no_cmdbuf', '--out', 'a.jsonl', '--skip', 'env', '--xla_settings=lt', '--out=b']
  assert ab.without_options(argv, ('--xla_settings', '--out')) == ['--jit', '--skip', 'env']


def test_xla_settings_refuses_an_unknown_name_with_one_line():
  result = subprocess.run([sys.executable, 'scripts/benchmark.py', '--xla_settings', 'no_cmdbuf,fastest'], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
  errors = [line for line in result.stderr.splitlines() if line.startswith('error: ')]
  assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr[-2000:]
  assert len(errors) == 1 and errors[0].startswith("error: unknown XLA setting 'fastest': use base, no_cmdbuf"), errors
  assert '[1/' not in result.stdout  # Refused before any benchmark process started.


@pytest.mark.slow
def test_xla_settings_time_each_setting_in_its_own_process(tmp_path):
  out = tmp_path / 'settings.jsonl'
  # A raw flag that replaces the package's default command buffers (planet.XLA_DEFAULT_FLAGS) in its process.
  raw = '--xla_gpu_enable_command_buffer=-WHILE,-CONDITIONAL'
  result = subprocess.run([sys.executable, 'scripts/benchmark.py', '--jit', '--tiny', '--repeats', '1', '--skip',
                           'matmul,train,parts,env,episode', f'--xla_settings={raw}', '--out', str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  rows = [json.loads(line) for line in open(out)]
  assert [(row['xla_setting'], row['name']) for row in rows if row['name'] == 'plan_call'] == [
      ('base', 'plan_call'), (raw, 'plan_call')]
  # The setting reached its process (each record carries its XLA_FLAGS), and only that one; base ran with the
  # package's default, the setting without it (one flag of that name, not two).
  assert [raw in row['flags'].get('XLA_FLAGS', '') for row in rows] == [row['xla_setting'] == raw for row in rows]
  assert [planet.XLA_DEFAULT_FLAGS[0] in row['flags']['XLA_FLAGS'] for row in rows] == [
      row['xla_setting'] == 'base' for row in rows]
  base, other = (row['value'] for row in rows if row['name'] == 'plan_call')
  line, = [line for line in result.stdout.splitlines() if line.startswith('plan_call ')]
  assert f'({other / base:.2f}x)' in line
