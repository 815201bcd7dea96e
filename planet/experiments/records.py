"""The committed benchmark records (results/benchmarks/*.jsonl, one JSON object per measured figure) and what the
code reads from them: the table of machines side by side, and the expected wall time of an episode on a CPU.

No TensorFlow here: the sweep's dry run, the trainer's start-up hint and the docs generator read the records too.
"""
import glob
import os

import planet
from planet import machine
from planet import rundir

# Where the measured records of each machine are committed (results/benchmarks/<machine>.jsonl).
COMMITTED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'results',
                             'benchmarks')
# Rows of the side-by-side table of machines, in order (then the env steps). The pytorch_port_ rows are the popular
# PyTorch port measured on the same machine, alternating with this project (results/benchmarks/pytorch_port_*.jsonl).
TABLE_FIGURES = ('matmul_flop_rate', 'train_step', 'pytorch_port_train_step', 'train_step_first_call',
                 'train_step_device_batch', 'update_step', 'update_step_prefetch_device', 'train_convs', 'train_rssm',
                 'train_optimizer', 'plan_call',
                 'pytorch_port_plan_call', 'plan_matmuls_alone', 'plan_first_call', 'training_episode_cartpole',
                 'paper_episode_cartpole', 'gpu_memory_peak')
# XLA flags that only say where files are (a CUDA folder, an HLO dump), not what is compiled or how.
NEUTRAL_XLA_FLAGS = ('--xla_gpu_cuda_data_dir', '--xla_dump_to')
# The sizes the train step and plan call records are measured at (App. A): B x L frames, J x I x H candidate steps.
PAPER_FRAMES = 50 * 50
PAPER_CANDIDATE_STEPS = 1000 * 10 * 12


def tuning_flags(text):
  """The flags of an XLA_FLAGS or TF_XLA_FLAGS value that can change a figure: all but NEUTRAL_XLA_FLAGS and the
  package's own defaults (planet.XLA_DEFAULT_FLAGS, which every run has)."""
  return [flag for flag in (text or '').split()
          if not flag.startswith(NEUTRAL_XLA_FLAGS) and flag not in planet.XLA_DEFAULT_FLAGS]


def default_settings(record):
  """Whether a record was measured as the docs' tables are: paper sizes, no overlay or extra binding, no XLA
  flags of one's own, and XLA as users run that machine: off on a CPU (the default), on on a GPU (gin/gpu.gin)."""
  flags = record.get('flags') or {}
  on_gpu = not str(record.get('device', 'CPU')).startswith('CPU')
  return (bool(flags.get('jit_compile')) == on_gpu
          and not any(flags.get(key) for key in ('tiny', 'gin_files', 'gin_params'))
          and not any(tuning_flags(flags.get(key)) for key in ('XLA_FLAGS', 'TF_XLA_FLAGS')))


def committed(directory=COMMITTED_DIR):
  """{device: {figure: record}}: per machine and figure, the newest record measured with the default settings
  among the JSON lines of `directory` (files are appended to, so a later line is newer). A record with an
  `invalid` field (the reason) stays in its file as measured but is left out."""
  machines = {}
  for path in sorted(glob.glob(os.path.join(directory, '*.jsonl'))):
    for record in rundir.read_jsonl(path):
      if {'device', 'name', 'value', 'unit'} <= set(record) and default_settings(record) and not record.get(
          'invalid'):
        machines.setdefault(record['device'], {})[record['name']] = record
  return machines


def _cell(record):
  if record is None:
    return '-'
  text = f"{record['value']:.4g} {record['unit']}"
  if 'fraction_of_matmul' in record:
    text += f" ({100 * record['fraction_of_matmul']:.0f}%)"
  if 'ours_same_minutes' in record:
    text += f" (ours then {record['ours_same_minutes']:.4g})"
  return text + (f" @{record['commit']}" if record.get('commit') else '')


def _table_names(columns):
  names = [name for name in TABLE_FIGURES if any(name in column for column in columns.values())]
  return names + sorted({name for column in columns.values() for name in column if name.startswith('env_step_')})


def side_by_side(columns):
  """Text lines of a table: one row per figure, one column per machine ({label: {figure: record}})."""
  widths = [max(len(label), 26) for label in columns]
  lines = ['  '.join([f"{'figure':<26}"] + [f'{label:<{w}}' for label, w in zip(columns, widths)])]
  for name in _table_names(columns):
    lines.append('  '.join([f'{name:<26}'] + [f'{_cell(column.get(name)):<{w}}'
                                              for column, w in zip(columns.values(), widths)]))
  return lines


def markdown_table(columns):
  """The same table in Markdown (docs/performance.md): a row per figure, a column per machine."""
  lines = ['| figure | ' + ' | '.join(columns) + ' |', '|---|' + '---|' * len(columns)]
  for name in _table_names(columns):
    lines.append(f'| `{name}` | ' + ' | '.join(_cell(column.get(name)) for column in columns.values()) + ' |')
  return lines


def cpu_column(machines=None, model=None):
  """(device, {figure: record}) of the committed CPU records for this CPU's model (else the first CPU machine with
  records), or (None, {}) without any."""
  machines = committed() if machines is None else machines
  cpus = {device: figures for device, figures in machines.items() if device.startswith('CPU')}
  model = model or machine.cpu_model()
  for device, figures in cpus.items():
    if model and model in device:
      return device, figures
  return next(iter(cpus.items()), (None, {}))


def episode_seconds(task, agent_steps, updates, frames, candidate_steps, column):
  """Expected seconds of one collected episode on the machine of `column` ({figure: record}), scaled from its
  paper-size records: `updates` train steps of `frames` = B x L frames (the step's time scales with the frames, the
  conv nets being most of it), `agent_steps` plan calls of `candidate_steps` = J x I x H (scaling with the
  candidates' steps) and environment steps of `task`. None where a record is missing."""
  train, plan = column.get('train_step'), column.get('plan_call')
  if not train or not plan:
    return None
  env = column.get(f'env_step_{task}')
  env_seconds = env['value'] if env else 0.0
  return (updates * train['value'] * frames / PAPER_FRAMES
          + agent_steps * (plan['value'] * candidate_steps / PAPER_CANDIDATE_STEPS + env_seconds))
