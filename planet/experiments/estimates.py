"""What a sweep will cost before it starts (scripts/sweep.py --dry_run): memory, disk, GPU and CPU time per run,
from measured figures and the committed benchmark records."""
import glob
import os

import numpy as np

from planet import config as config_lib
from planet import gin_text
from planet import rundir
from planet import tasks as tasks_lib
from planet.experiments import records

# Per-run resources (docs/reproduce.md), measured on the 2-core AMD EPYC dev machine: the trainer's
# peak resident memory at paper sizes without its replay (scripts/benchmark.py's train step B=50 x L=50 and plan
# call: 2.8 GB), to which the replay's uint8 images add exactly 64 x 64 x 3 bytes per stored step.
IMAGE_BYTES = tasks_lib.IMAGE_SIZE * tasks_lib.IMAGE_SIZE * 3
TRAINER_RAM_GB = 2.8
EPISODE_DISK_BYTES_PER_STEP = 420  # Measured on cartpole: ~53 KB per 126-step episode file (other tasks may differ).
CHECKPOINT_DISK_GB = 0.12  # Measured: the two kept checkpoints of the paper-size model and optimizer.


def plan_summary(selected, gpus_per_run, done=frozenset(), results='results'):
  """The --dry_run summary: counts, resources per run from measured figures, and what is not known yet. `done`:
  the selected runs already done (planet.experiments.state), left out of the time still to spend."""
  train = [run for run in selected if run.kind == 'train']
  sim = [run for run in selected if run.kind == 'truesim']
  lines = [f'{len(selected)} runs: {len(train)} training runs, {len(sim)} true-simulator episodes']
  if train:
    ram, disk, totals = [], [], set()
    for run in train:
      names = tasks_lib.names() if run.task == 'multitask' else [run.task]
      episodes = total_episodes(run)
      totals.add(episodes)
      steps = sum(1000 // tasks_lib.get(name).action_repeat + 1 for name in names) * episodes
      ram.append(TRAINER_RAM_GB + steps * IMAGE_BYTES / 1e9)
      disk.append(steps * EPISODE_DISK_BYTES_PER_STEP / 1e9 + CHECKPOINT_DISK_GB)
    lines.append(f"per training run at its {'/'.join(map(str, sorted(totals)))} episodes: RAM "
                 f'{min(ram):.1f}-{max(ram):.1f} GB (trainer + replay images), disk {min(disk):.2f}-{max(disk):.2f} '
                 f'GB; all: {sum(disk):.1f} GB of disk')
    if any(run.variant != 'quick' for run in train):
      lines.append(gpu_time(len(train)))
    if gpus_per_run < 1:
      lines.append(sharing_line(gpus_per_run))
  cpu = cpu_hours(train)
  if cpu:
    lines.append(cpu)
  if sim:
    lines.append(true_sim_minutes(sim, done, results))
  return '\n'.join(lines)


def total_episodes(run):
  """A training run's train.total_episodes as its gin files bind it (1000, the paper's, where they do not)."""
  try:
    return int(gin_text.files_bindings(run.gin_files).get('train.total_episodes', 1000))
  except ValueError:
    return 1000


def true_sim_minutes(sim, done=frozenset(), results='results'):
  """The --dry_run line of true-simulator episode times, per task of the selected episodes `sim`: the episodes left
  to play (those not in `done`) and their time at the fastest pace recorded in results/true_sim/<task>.jsonl
  (seconds per unit of H x I x J, the rollouts a CEM step imagines; a lower bound, as the recorded episodes are), and
  the median recorded wall time with the thread counts behind it."""
  found = []
  for task in sorted({run.task for run in sim}):
    episodes = [r for r in rundir.read_jsonl(os.path.join(results, 'true_sim', f'{task}.jsonl')) if 'seconds' in r]
    if not episodes:
      continue
    minutes = float(np.median([r['seconds'] for r in episodes])) / 60
    threads = sorted({r.get('threads') for r in episodes if r.get('threads')})
    fastest = min(episodes, key=lambda r: r['seconds'] / _rollouts(r['settings']))
    left = [run for run in sim if run.task == task and run not in done]
    hours = fastest['seconds'] / _rollouts(fastest['settings']) * sum(_rollouts(run.setting) for run in left) / 3600
    h, i, j, k = fastest['settings']
    found.append(f"{task}: {len(left)} to play, at least {hours:.1f} h at the fastest recorded pace ({fastest['seconds']:.0f}"
                 f" s for H{h} I{i} J{j} K{k}, {fastest.get('threads', '?')} threads, scaled by H x I x J); median of "
                 f"the {len(episodes)} recorded {minutes:.0f} min ({'/'.join(map(str, threads))} threads)")
  return ('true-simulator episodes: ' + ('; '.join(found) or 'none recorded') +
          '; a stopped episode resumes at its last step')


def _rollouts(setting):
  """A CEM setting's work per agent step, in imagined steps: H x I x J."""
  horizon, iterations, candidates = setting[:3]
  return horizon * iterations * candidates


def gpu_time(count, machines=None):
  """The --dry_run line of GPU time: the paper episodes measured on each GPU of the committed records, and the
  paper's own figure (10-20 hours a run on a V100)."""
  machines = records.committed() if machines is None else machines
  measured = [f"{record['value']:.1f} s a paper cartpole episode on {device} (about "
              f"{record['value'] * 1000 / 3600:.1f} h a 1000-episode run alone)"
              for device, figures in machines.items() for name, record in figures.items()
              if name == 'paper_episode_cartpole']
  return ('GPU time: ' + ('; '.join(measured) + ' (other tasks plan 2-4x more steps an episode); '
                          if measured else 'no GPU records; ') +
          f'the paper: 10-20 h per run on one V100, i.e. {10 * count}-{20 * count} GPU-hours for these {count} runs '
          'one per GPU')


def sharing_line(gpus_per_run, directory=records.COMMITTED_DIR):
  """The --dry_run line for runs sharing a GPU: the newest runs_per_gpu record (sweep.py --measure_sharing)."""
  found = [record for path in sorted(glob.glob(os.path.join(directory, 'sharing_*.jsonl')))
           for record in rundir.read_jsonl(path) if record.get('name') == 'runs_per_gpu']
  line = f'at {gpus_per_run} GPU per run, {int(1 / gpus_per_run)} runs share a GPU'
  if found:
    record = found[-1]
    level = max(record['levels'], key=lambda level: level['runs'])
    line += (f": measured for {record['configuration']} on {record['device']} with {record['cpus_per_run']} CPU "
             f"threads per run, {level['runs']} runs at once did {level['vs_one_run']:.2f}x the episodes per hour "
             f"of one run alone ({level['device_hours_per_run']:.2f} GPU-hours per run)")
  return line + '; other counts and GPUs: --measure_sharing 1,2,4 times it on yours'


# The bindings an episode's CPU time is scaled from (planet.experiments.records.episode_seconds), read from gin files' text
# (a sweep's runs) or from the parsed configuration (scripts/train.py's hint): one reader for both.
SIZE_BINDINGS = ('train.batch_size', 'train.chunk_length', 'train.collect_interval', 'cem_plan.candidates',
                 'cem_plan.iterations', 'cem_plan.horizon', 'make_env.max_env_steps', 'make_env.action_repeat')


def episode_seconds(task, sizes, column):
  """Seconds per collected episode of `task` with `sizes` ({SIZE_BINDINGS name: int}) on the CPU of the records
  `column`, or None where no record fits."""
  return records.episode_seconds(
      task, sizes['make_env.max_env_steps'] // sizes['make_env.action_repeat'], sizes['train.collect_interval'],
      sizes['train.batch_size'] * sizes['train.chunk_length'],
      sizes['cem_plan.candidates'] * sizes['cem_plan.iterations'] * sizes['cem_plan.horizon'], column)


def cpu_episode_minutes(column=None):
  """Expected minutes per collected episode for the parsed configuration on this CPU, scaled from the committed
  benchmark records of this CPU model (else of the first CPU with records). None without records."""
  task = config_lib.query('train.task')
  sizes = {name: config_lib.query(name) for name in SIZE_BINDINGS if name != 'make_env.action_repeat'}
  # Unbound, the action repeat is the task registry's.
  registered = tasks_lib.get(task).action_repeat if task in tasks_lib.names() else 4
  sizes['make_env.action_repeat'] = config_lib.query('make_env.action_repeat', registered)
  seconds = episode_seconds(task, sizes, records.cpu_column()[1] if column is None else column)
  return None if seconds is None else seconds / 60


def cpu_hours(train, machines=None):
  """The --dry_run line of expected CPU hours per task for training runs of reduced compute (gin/quick.gin, or
  any whose episodes take under an hour on a CPU), scaled from the committed benchmark records of this CPU's
  model (planet.experiments.records.episode_seconds); '' where there are none or no record fits."""
  device, column = records.cpu_column(machines)
  hours = {}
  for run in train:
    if run.task == 'multitask':
      continue
    found = gin_text.files_bindings(run.gin_files)
    try:
      sizes = {key: int(found[key]) for key in SIZE_BINDINGS + ('train.total_episodes', 'train.seed_episodes')}
    except (KeyError, ValueError):
      continue
    seconds = episode_seconds(run.task, sizes, column)
    if seconds is not None and seconds < 3600:
      planned = sizes['train.total_episodes'] - sizes['train.seed_episodes']
      hours[run.task] = seconds * planned / 3600
  if not hours:
    return ''
  measured = column.get('training_episode_cartpole')  # A whole gin/quick.gin episode, for comparison.
  return (f'CPU time per run, scaled from the benchmark records of {device} (train step, plan call, env step; '
          'float32 convs; a lower bound for them: test episodes, tracing and small batches\' lower efficiency not '
          'counted; where gin/quick.gin\'s \'auto\' picks bfloat16 convs the train step is faster): ' +
          ', '.join(f'{task} {value:.1f} h' for task, value in hours.items()) +
          (f"; measured: a whole quick cartpole episode took {measured['value']:.0f} s (training_episode_cartpole)"
           if measured else ''))
