"""The committed benchmark records (planet/experiments/records.py): expected episode times, machines side by side."""
import json

import pytest

import planet
from planet import logger
from planet.experiments import records


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
