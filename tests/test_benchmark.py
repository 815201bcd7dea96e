"""planet.measure: the FLOP model; scripts/benchmark.py and scripts/compare_precision.py run end to end with tiny
sizes."""
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import planet
from planet import agent as agent_lib
from planet import config as config_lib
from planet import envs
from planet import logger
from planet import machine
from planet import replay as replay_lib
from planet import rollout
from planet import training
from planet import world_model
from planet.experiments import records
from planet.measure import ab
from planet.measure import benchmark
from planet.measure import flops
from planet.measure import timing

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_flop_counts_match_hand_computation():
  # First encoder layer at depth 32: 31x31 outputs, 4x4x3 kernel, 32 filters, 2 FLOPs per multiply-add.
  assert flops.conv_flops(64, 3, 32, 4, False) == 2 * 31 * 31 * 4 * 4 * 3 * 32
  # Last decoder layer: 30x30 inputs, each scattering a 6x6x3 patch from 32 channels.
  assert flops.conv_flops(30, 32, 3, 6, True) == 2 * 30 * 30 * 6 * 6 * 32 * 3
  paper = dict(stoch=30, deter=200, hidden=200, depth=32, reward_units=200, reward_layers=2, batch=50, length=50,
               action=1, candidates=1000, horizon=12, iterations=10)
  assert 0.55e12 < flops.train_step_flops(paper) < 0.65e12  # ~0.59 TFLOP (DEVELOPERS.md)
  assert 85e9 < flops.plan_flops(paper) < 95e9  # ~90 GFLOP
  # The plan call's matmuls, written out: the RSSM prior's five layers per imagined step (J = 1000 rows, I x H =
  # 120 steps), the reward head's three over all 12,000 imagined states once per iteration; together, its FLOPs.
  shapes = flops.plan_matmuls(paper)
  assert shapes == [(1000, 31, 200, 120), (1000, 400, 400, 120), (1000, 400, 200, 120), (1000, 200, 200, 120),
                    (1000, 200, 60, 120), (12000, 230, 200, 10), (12000, 200, 200, 10), (12000, 200, 1, 10)]
  assert sum(2 * m * k * n * count for m, k, n, count in shapes) == flops.plan_flops(paper)


def test_matmuls_alone_are_not_optimised_away_by_xla():
  # XLA turns a loop of `matmul(a, b)[0, 0]` into one row of one matmul (25x "faster" at the plan's sizes): the
  # compiled loop must take about as long as the plain one, not a fraction of it.
  shapes = [(400, 256, 256, 30)]
  plain = min(timing.matmuls_alone(shapes, 3) for _ in range(2))
  xla = min(timing.matmuls_alone(shapes, 3, jit=True) for _ in range(2))
  assert xla > 0.3 * plain, (xla, plain)


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


def test_episode_times_from_metrics_lines():
  rows = [dict(episodes=1, grad_steps=0, wall_time=1.0),  # seed episode: no updates
          dict(episodes=2, grad_steps=100, wall_time=71.0, update_time=60.0, collect_time=9.0),  # compiles
          dict(episodes=3, grad_steps=200, wall_time=77.0, update_time=4.0, collect_time=2.0),
          dict(episodes=4, grad_steps=300, wall_time=85.0, update_time=4.0, collect_time=2.0, test_return=5.0),
          dict(episodes=5, grad_steps=400, wall_time=90.0, update_time=3.0, collect_time=1.5),
          dict(episodes=6, grad_steps=500, wall_time=97.0, update_time=5.0, collect_time=1.0)]
  # Episodes 3, 5, 6 (2 compiles, 4 has a test): walls 6, 5, 7.
  assert logger.episode_times(rows) == dict(wall=6.0, update=4.0, collect=1.5, episodes=3)
  # With the collection's parts in every kept line, their medians too.
  for row, act, env in zip(rows[2:], (1.2, 9.0, 0.5, 0.7), (0.6, 9.0, 0.9, 0.2)):
    row.update(act_time=act, env_time=env)
  assert logger.episode_times(rows) == dict(wall=6.0, update=4.0, collect=1.5, act=0.7, env=0.6, episodes=3)
  with pytest.raises(ValueError, match='no training episode'):
    logger.episode_times(rows[:2])


def test_update_times_run_each_variant_through_the_training_loop():
  # updates.update as a run calls it, fed by the replay's prefetch thread: with numpy batches and with batches the
  # prefetch thread copied to a device (the CPU here: the code path of train.prefetch_device). Each variant runs one
  # warm-up update and its rounds' steps, and no prefetch thread is left behind.
  config_lib.parse(['gin/cartpole.gin', 'gin/debug.gin'], [])
  sizes = dict(batch=config_lib.query('train.batch_size'), length=config_lib.query('train.chunk_length'), action=1)
  model = world_model.WorldModel(1)
  learner = world_model.Learner(model, sizes['batch'], sizes['length'])
  threads = threading.active_count()
  times = timing.update_times(learner, sizes, steps=3, rounds=2, device='/CPU:0')
  assert set(times) == {'numpy', '/CPU:0'} and all(seconds > 0 for seconds in times.values())
  assert int(learner.optimizer.step) == 2 * (1 + 2 * 3)
  assert threading.active_count() == threads


def test_gpu_memory_peak_is_a_record_on_a_gpu_only(monkeypatch, tmp_path):
  rows = benchmark.run(tiny=True, skip=benchmark.PARTS, committed_dir=str(tmp_path))
  assert rows == []  # No GPU on the test machines: no memory record.
  monkeypatch.setattr(training, 'gpu_memory_peak_mib', lambda: 2048.5)
  rows = benchmark.run(tiny=True, skip=benchmark.PARTS, committed_dir=str(tmp_path))
  assert [(row['name'], row['value'], row['unit']) for row in rows] == [('gpu_memory_peak', 2048.5, 'MiB')]


def test_committed_records_side_by_side(tmp_path):
  common = dict(unit='s', tf_version='2.21.0')
  default = {'jit_compile': False, 'tiny': False, 'gin_files': [], 'gin_params': []}
  with open(tmp_path / 'amd.jsonl', 'w') as f:
    for record in (dict(name='plan_call', value=0.9, device='CPU AMD', flags=default, commit='a1'),
                   dict(name='plan_call', value=0.75, device='CPU AMD', flags=default, commit='b2',
                        fraction_of_matmul=0.58),
                   dict(name='plan_call', value=0.5, device='CPU AMD', flags=dict(default, jit_compile=True)),
                   dict(name='train_step', value=3.7, device='CPU AMD',
                        flags=dict(default, gin_files=['gin/mixed_precision.gin'])),
                   dict(name='float32', step_seconds=4.8, device='CPU AMD')):
      f.write(json.dumps(dict(common, **record)) + '\n')
  # The PyTorch port, measured on the same machine in its own file, lands in that machine's column.
  with open(tmp_path / 'port_amd.jsonl', 'w') as f:
    f.write(json.dumps(dict(name='pytorch_port_plan_call', value=0.77, unit='s', device='CPU AMD',
                            ours_same_minutes=0.71)) + '\n')
  with open(tmp_path / 'intel.jsonl', 'w') as f:
    f.write(json.dumps(dict(common, name='train_step', value=5.18, device='CPU Intel', flags=default)) + '\n')
    f.write(json.dumps(dict(common, name='plan_call', value=0.01, device='CPU Intel', flags=dict(default, tiny=True)))
            + '\n')
  # A GPU's default is XLA on (gin/gpu.gin): its plain-graph record is left out, and so is a record marked invalid.
  with open(tmp_path / 'gpu.jsonl', 'w') as f:
    for record in (dict(name='plan_call', value=0.009, device='NVIDIA H100', flags=dict(default, jit_compile=True)),
                   dict(name='train_step', value=0.1, device='NVIDIA H100', flags=default),
                   dict(name='matmul_flop_rate', value=4739.0, unit='GFLOP/s', device='NVIDIA H100',
                        flags=dict(default, jit_compile=True), invalid='timed with the product copied to the host')):
      f.write(json.dumps(dict(common, **record)) + '\n')
  # XLA flags of one's own (command buffers, a persistent cache) are not the default either; flags that only say
  # where files are (the CUDA folder, an HLO dump) are.
  gpu = dict(default, jit_compile=True)
  with open(tmp_path / 'gpu_flags.jsonl', 'w') as f:
    command_buffers = '--xla_gpu_cuda_data_dir=/usr/local/cuda --xla_gpu_enable_command_buffer=+WHILE'
    for record in (dict(name='train_step', value=0.03, device='NVIDIA H100',
                        flags=dict(gpu, XLA_FLAGS=command_buffers)),
                   dict(name='plan_first_call', value=3.0, device='NVIDIA H100', flags=dict(
                       gpu, TF_XLA_FLAGS='--tf_xla_persistent_cache_directory=/tmp/c')),
                   dict(name='plan_first_call', value=14.0, device='NVIDIA H100', flags=dict(
                       gpu, XLA_FLAGS='--xla_gpu_cuda_data_dir=/usr/local/cuda --xla_dump_to=/tmp/dump')),
                   # The package's own XLA defaults are what every run has: default settings.
                   dict(name='train_step_device_batch', value=0.02, device='NVIDIA H100', flags=dict(
                       gpu, XLA_FLAGS=' '.join(planet.XLA_DEFAULT_FLAGS)))):
      f.write(json.dumps(dict(common, **record)) + '\n')
  machines = records.committed(str(tmp_path))
  # Newest default-settings record per machine and figure; XLA on a CPU, overlays, tiny sizes, other kinds and
  # invalid records left out.
  assert {device: {name: r['value'] for name, r in figures.items()} for device, figures in machines.items()} == {
      'CPU AMD': {'plan_call': 0.75, 'pytorch_port_plan_call': 0.77}, 'CPU Intel': {'train_step': 5.18},
      'NVIDIA H100': {'plan_call': 0.009, 'plan_first_call': 14.0, 'train_step_device_batch': 0.02}}
  header, train, device_batch, plan, port_plan, first_plan = records.side_by_side(machines)
  assert device_batch.split()[1:] == ['-', '0.02', 's', '-']
  assert header.split()[1:] == ['CPU', 'AMD', 'NVIDIA', 'H100', 'CPU', 'Intel']  # Columns in file name order.
  assert train.split()[1:] == ['-', '-', '5.18', 's']
  assert plan.split()[1:] == ['0.75', 's', '(58%)', '@b2', '0.009', 's', '-']
  assert port_plan.split() == ['pytorch_port_plan_call', '0.77', 's', '(ours', 'then', '0.71)', '-', '-']
  assert first_plan.split() == ['plan_first_call', '-', '14', 's', '-']


def test_committed_port_records_sit_beside_ours():
  # Every committed figure of the PyTorch port names a machine that also has this project's figure, so the table
  # reads the two side by side, and says what ours measured in the same minutes.
  machines = records.committed()
  ports = {(device, name) for device, figures in machines.items() for name in figures
           if name.startswith('pytorch_port_')}
  assert ports, 'no committed record of the PyTorch port'
  for device, name in ports:
    record = machines[device][name]
    assert name in records.TABLE_FIGURES and name[len('pytorch_port_'):] in machines[device]
    assert record['unit'] == 's' and record['value'] > 0 and record['ours_same_minutes'] > 0


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



def test_cpu_topology_tells_hyperthreads_from_cores():
  block = 'processor\t: {}\nmodel name\t: Xeon\nphysical id\t: 0\ncore id\t\t: {}\n'
  # Two vCPUs that are one core's two hyperthreads, then two separate cores; no core ids: cannot tell.
  assert machine.cpu_topology('\n'.join(block.format(i, 0) for i in range(2))) == '1 core, 2 threads'
  assert machine.cpu_topology('\n'.join(block.format(i, i) for i in range(2))) == '2 cores, 2 threads'
  assert machine.cpu_topology('processor\t: 0\nmodel name\t: X\n') is None
