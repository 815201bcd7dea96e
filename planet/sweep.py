"""The paper's experiments as data, and the launcher that runs them (scripts/sweep.py).

Matrices name the runs behind Table 1 and each figure (`MATRICES`); a run is `scripts/train.py` with a task file
and a variant's overlays, or one true-simulator CEM episode. The launcher keeps no state of its own: a run's
status is read from its run directory (exit.json, the lock, the episodes on disk), so rerunning the same command
starts only what is unfinished, and resumed runs continue from their checkpoints. Each run is one Ray task that
starts the script as a subprocess: TensorFlow and the renderer never load in the driver or the Ray workers.

This module imports neither TensorFlow nor Ray at module level (Ray is imported by `launch`).
"""
import ast
import collections
import ctypes
import dataclasses
import glob
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
from tqdm import tqdm
from tqdm.contrib import logging as tqdm_logging

from planet import cli
from planet import logger
from planet import machine
from planet import records
from planet import rundir
from planet import tasks as tasks_lib

# --- CEM with the true simulator (Table 1's last row, Fig. 12): the paper's planner setting and the Fig. 12 grid,
# each knob varied one at a time around it (our grid; the paper's figure shows the same four knobs).
CemSettings = collections.namedtuple('CemSettings', 'horizon iterations candidates top_k')
# App. A: H = 12, I = 10, J = 1000, K = 100.
CEM_PAPER = CemSettings(12, 10, 1000, 100)
CEM_SWEEP = {'horizon': [2, 4, 6, 8, 10, 12, 16], 'iterations': [1, 2, 5, 10, 15],
             'candidates': [100, 300, 1000, 2000], 'top_k': [10, 30, 100, 300]}


def cem_sweep_settings():
  """Fig. 12's grid: every setting with one knob of CEM_SWEEP varied around CEM_PAPER, without repeats."""
  settings = []
  for knob, values in CEM_SWEEP.items():
    for value in values:
      setting = CEM_PAPER._replace(**{knob: value})
      if setting not in settings:
        settings.append(setting)
  return settings


def cem_variant(records, std_estimator='std', warm_start=False):
  """True-simulator records of one CEM variant: the refit's spread estimator ('std': the authors' code, the
  default; 'paper': Algorithm 2 as printed) and the warm-start probe. Older records lack the keys and mean the
  printed refit with a cold start."""
  return [r for r in records
          if r.get('std_estimator', 'paper') == std_estimator and r.get('warm_start', False) == warm_start]


# --- The paper's training runs. Variant -> overlays after the task file; the run directory's <config> part is
# derived from them exactly as scripts/train.py derives its default (cli.run_path), and planet.figures.FIGURES
# reads the same names.
VARIANTS = {
    'planet': [],
    'gru': ['gin/ablations/gru.gin'],
    'ssm': ['gin/ablations/ssm.gin'],
    'random_shooting': ['gin/ablations/random_shooting.gin'],
    'random_collection': ['gin/ablations/random_collection.gin'],
    'overshooting': ['gin/ablations/overshooting.gin'],
    'drnn': ['gin/ablations/drnn.gin'],
    'drnn-overshooting': ['gin/ablations/drnn.gin', 'gin/ablations/overshooting.gin'],
    'elu': ['gin/ablations/elu.gin'],
    'ssm-elu': ['gin/ablations/ssm.gin', 'gin/ablations/elu.gin'],
    'multitask': [],  # gin/multitask.gin as the task file: one run over all tasks.
    'quick': ['gin/quick.gin'],  # Reduced compute for a CPU (the `cpu` matrix), not a figure of the paper.
}
# Matrix -> (variants, kind). Figs. 4-9 include PlaNet itself, which Table 1's runs provide (same directories).
MATRICES = {
    'table1': (['planet'], 'train'),
    'fig4': (['planet', 'gru', 'ssm'], 'train'),
    'fig5': (['planet', 'random_shooting', 'random_collection'], 'train'),
    'fig6': (['planet', 'multitask'], 'train'),
    'fig8': (['planet', 'overshooting', 'drnn', 'drnn-overshooting'], 'train'),
    'fig9': (['planet', 'elu', 'ssm', 'ssm-elu'], 'train'),
    'truesim': (['std'], 'truesim'),
    'fig12': (['std'], 'fig12'),
}
MATRICES['all'] = (sorted({v for vs, kind in MATRICES.values() if kind == 'train' for v in vs}), 'all')
# Not the paper's: PlaNet at reduced compute (gin/quick.gin) on the six tasks, what a CPU can learn in hours a task.
MATRICES['cpu'] = (['quick'], 'train')
PAPER_SEEDS = 5  # Table 1 and the curves: 5 seeds (x 10 test trajectories).
TRUE_SIM_EPISODES = 10  # Our choice for the true-simulator row: 10 episodes per task (the paper does not say).

# Per-run resources (docs/reproduce.md), measured on the 2-core AMD EPYC dev machine: the trainer's
# peak resident memory at paper sizes without its replay (scripts/benchmark.py's train step B=50 x L=50 and plan
# call: 2.8 GB), to which the replay's uint8 images add exactly 64 x 64 x 3 bytes per stored step.
IMAGE_BYTES = tasks_lib.IMAGE_SIZE * tasks_lib.IMAGE_SIZE * 3
TRAINER_RAM_GB = 2.8
EPISODE_DISK_BYTES_PER_STEP = 420  # Measured on cartpole: ~53 KB per 126-step episode file (other tasks may differ).
CHECKPOINT_DISK_GB = 0.12  # Measured: the two kept checkpoints of the paper-size model and optimizer.


@dataclasses.dataclass(frozen=True)
class Run:
  """One unit of work: a training run, or one true-simulator CEM episode."""
  kind: str  # 'train' or 'truesim'
  task: str
  variant: str  # a VARIANTS key, or the CEM spread estimator for true-simulator episodes
  seed: int  # the training seed, or the true-simulator episode
  path: str  # run directory (training) or record file (true simulator)
  gin_files: tuple = ()
  setting: tuple = CEM_PAPER

  @property
  def config(self):
    """A training run's <config>: its run directory's name, as scripts/train.py derives it from the gin files."""
    return os.path.basename(os.path.dirname(self.path))

  @property
  def name(self):
    if self.kind == 'train':
      return f'{self.task}/{self.config}/seed{self.seed}'
    return f'truesim/{self.task}/{self.variant}-H{self.setting[0]}-I{self.setting[1]}-J{self.setting[2]}-' \
           f'K{self.setting[3]}/ep{self.seed}'


def xla_warning(gin_files, gpus):
  """A one-line warning when runs get a GPU (`gpus` > 0) but none of the overlays `gin_files` turns XLA on for both
  compiled functions (gin/gpu.gin does), else None. The GPU figures in docs/performance.md were all measured with
  XLA on."""
  if not gpus:
    return None
  found = cli.files_bindings(gin_files)  # An overlay that includes gin/gpu.gin counts as gin/gpu.gin.
  if all(found.get(key) == 'True' for key in ('Learner.jit_compile', 'Agent.jit_compile')):
    return None
  return ('warning: the runs get a GPU but XLA stays off: add --gin_file=gin/gpu.gin (XLA on, as the GPU figures of '
          'docs/performance.md were measured)')


def runs(matrix, tasks=None, variants=None, seeds=None, episodes=TRUE_SIM_EPISODES, logs='logs', results='results',
         extra_gin_files=()):
  """The runs of a named matrix, cut down by tasks / variants / seeds. `extra_gin_files` (e.g. gin/gpu.gin) are
  added to every training run; overlays that change the experiment also change the run directories."""
  if matrix not in MATRICES:
    raise ValueError(f"unknown matrix {matrix!r}: choose one of {', '.join(MATRICES)}")
  matrix_variants, kind = MATRICES[matrix]
  names = list(tasks or tasks_lib.names())
  for task in names:
    tasks_lib.get(task)
  unknown = [v for v in (variants or []) if v not in VARIANTS and v not in ('std', 'paper')]
  if unknown:
    raise ValueError(f"unknown variant(s) {', '.join(unknown)}: choose from {', '.join(VARIANTS)}")
  chosen = [v for v in matrix_variants if not variants or v in variants]
  seeds = list(range(PAPER_SEEDS) if seeds is None else seeds)
  found = []
  if kind in ('train', 'all'):
    for variant in chosen:
      for seed in seeds:
        if variant == 'multitask':
          files = ['gin/multitask.gin', *extra_gin_files]
          found.append(Run('train', 'multitask', variant, seed,
                           cli.run_path(logs, 'multitask', seed, files[1:]), tuple(files)))
          continue
        for task in names:
          files = [f'gin/{task}.gin', *VARIANTS[variant], *extra_gin_files]
          found.append(Run('train', task, variant, seed, cli.run_path(logs, task, seed, files[1:]), tuple(files)))
  if kind in ('truesim', 'fig12', 'all'):
    estimators = [v for v in (variants or ['std']) if v in ('std', 'paper')] or ['std']
    jobs = []
    if kind in ('truesim', 'all'):  # Table 1's last row: every task at the paper's setting.
      jobs += [(task, CEM_PAPER) for task in names]
    if kind in ('fig12', 'all'):  # Fig. 12: cheetah over the grid.
      jobs += [(task, setting) for task in (['cheetah'] if kind == 'all' or not tasks else names)
               for setting in cem_sweep_settings() if (task, setting) not in jobs]
    for task, setting in jobs:
      for estimator in estimators:
        for episode in range(episodes):
          record = os.path.join(results, 'true_sim', 'jobs', task, true_sim_job_name(estimator, setting, episode))
          found.append(Run('truesim', task, estimator, episode, record, (), tuple(setting)))
  return found


def true_sim_job_name(estimator, setting, episode, warm_start=False):
  """The file name of one true-simulator episode's record under results/true_sim/jobs/<task>/; while it plays, its
  checkpoint is the same name + '.partial' and its lock + '.lock'."""
  warm = '-warm' if warm_start else ''
  return f'{estimator}{warm}-H{setting[0]}-I{setting[1]}-J{setting[2]}-K{setting[3]}-ep{episode}.json'


def _merged_true_sim_done(run, results):
  """Whether results/true_sim/<task>.jsonl already holds this episode (earlier runs, before per-job files)."""
  records = cem_variant(rundir.read_jsonl(os.path.join(results, 'true_sim', f'{run.task}.jsonl')), run.variant)
  return any(tuple(r['settings']) == run.setting and r['episode'] == run.seed for r in records)


def status(run, results='results'):
  """(state, detail): state is 'not started', 'running', 'partial', 'done' or 'failed'."""
  if run.kind == 'truesim':
    if os.path.exists(run.path) or _merged_true_sim_done(run, results):
      return 'done', ''
    running = rundir.is_locked(os.path.dirname(run.path), os.path.basename(run.path) + '.lock')
    try:  # Its progress (planet.true_sim saves it after every step).
      with open(run.path + '.partial') as f:
        saved = json.load(f)
      steps = f"{len(saved['actions'])} of {saved['steps']} steps"
    except (OSError, ValueError, KeyError):
      steps = ''
    return ('running', steps) if running else ('partial', steps) if steps else ('not started', '')
  if not os.path.isdir(run.path):
    return 'not started', ''
  episodes = rundir.RunDir(run.path).episodes_done()
  if rundir.is_locked(run.path):
    return 'running', f'{episodes} episodes'
  ended = rundir.read_exit(run.path)
  if ended and ended['code'] == cli.EXIT_OK and episodes >= ended['total_episodes']:
    return 'done', f"{episodes} episodes"
  if ended and ended['code'] not in (cli.EXIT_OK, cli.EXIT_INTERRUPTED):
    return 'failed', f"exit {ended['code']}: {ended['reason']}"
  if episodes:
    total = f" of {ended['total_episodes']}" if ended else ''
    return 'partial', f'{episodes}{total} episodes'
  return 'not started', ''


def status_table(selected, results='results'):
  """The --status table as text: one line per run, then counts per state and the episodes done of planned."""
  lines, counts = [], collections.Counter()
  width = max([len(run.name) for run in selected] + [10])
  for run in selected:
    state, detail = status(run, results)
    counts[state] += 1
    lines.append(f'{run.name:<{width}}  {state:<11}  {detail}')
  lines.append(', '.join(f'{counts[state]} {state}' for state in
                         ('done', 'running', 'partial', 'failed', 'not started') if counts[state]) +
               f' ({len(selected)} runs)')
  lines.append(progress_line(progress(selected, results)))
  return '\n'.join(lines)


# --- Progress of a sweep: episodes on disk against episodes planned, recounted from the run directories, so it is
# the same whichever process (or sweep) wrote them. A long sweep shows it as a bar in a terminal, else as a log line.
PROGRESS_SECONDS = 30  # How often a running sweep recounts its runs' episodes.
PROGRESS_LOG_SECONDS = 1800  # Without a terminal, how often it logs the count as a line instead of drawing a bar.


def planned_episodes(gin_files):
  """Episodes a training run with these gin files has when complete, all its tasks together (as scripts/train.py
  counts them), read from the files' text without TensorFlow; None if they do not say."""
  found = cli.files_bindings(gin_files)
  try:
    total = int(found['train.total_episodes'])
    tasks = ast.literal_eval(found.get('train.multitask_tasks', 'None')) or tasks_lib.names()
  except (KeyError, ValueError, SyntaxError):  # Unbound, or a macro or expression that only gin can read.
    return None
  return total * (len(tasks) if ast.literal_eval(found.get('train.task', 'None')) == 'multitask' else 1)


def progress(selected, results='results'):
  """{'train': (episodes on disk, planned), 'truesim': (episodes done, planned)} over the selected runs, a kind only
  where there are runs of it. A training run counts at most its planned episodes (its exit.json's count where the
  gin files do not say)."""
  counts = {}
  for run in selected:
    if run.kind == 'truesim':
      done, planned = int(status(run, results)[0] == 'done'), 1
    else:
      done = rundir.RunDir(run.path).episodes_done()
      planned = planned_episodes(run.gin_files) or (rundir.read_exit(run.path) or {}).get('total_episodes')
      planned = planned or done
      done = min(done, planned)
    before = counts.get(run.kind, (0, 0))
    counts[run.kind] = (before[0] + done, before[1] + planned)
  return counts


def progress_line(counts, start=None, seconds=None):
  """The counts of `progress` as one line; with the counts at the sweep's start and the seconds since, also the time
  left at that pace (training episodes where there are any: they take the GPU-hours)."""
  names = {'train': 'training episodes', 'truesim': 'true-simulator episodes'}
  line = '; '.join(f'{done:,} of {planned:,} {names[kind]} ({100 * done / max(planned, 1):.1f}%)'
                   for kind, (done, planned) in counts.items())
  kind = 'train' if 'train' in counts else 'truesim'
  gained = counts.get(kind, (0, 0))[0] - (start or {}).get(kind, (0, 0))[0]
  if seconds and gained > 0:
    left = (counts[kind][1] - counts[kind][0]) * seconds / gained
    line += f'; about {left / 3600:.1f} h left at the pace since the sweep started'
  return line


def plan_summary(selected, gpus_per_run, results='results'):
  """The --dry_run summary: counts, resources per run from measured figures, and what is not known yet."""
  train = [run for run in selected if run.kind == 'train']
  sim = [run for run in selected if run.kind == 'truesim']
  lines = [f'{len(selected)} runs: {len(train)} training runs, {len(sim)} true-simulator episodes']
  if train:
    ram, disk = [], []
    for run in train:
      names = tasks_lib.names() if run.task == 'multitask' else [run.task]
      steps = sum(1000 // tasks_lib.get(name).action_repeat + 1 for name in names) * 1000
      ram.append(TRAINER_RAM_GB + steps * IMAGE_BYTES / 1e9)
      disk.append(steps * EPISODE_DISK_BYTES_PER_STEP / 1e9 + CHECKPOINT_DISK_GB)
    lines.append(f'per training run at 1000 episodes: RAM {min(ram):.1f}-{max(ram):.1f} GB (trainer + replay images), '
                 f'disk {min(disk):.2f}-{max(disk):.2f} GB; all: {sum(disk):.0f} GB of disk')
    if any(run.variant != 'quick' for run in train):
      lines.append(gpu_time(len(train)))
    if gpus_per_run < 1:
      lines.append(sharing_line(gpus_per_run))
  cpu = cpu_hours(train)
  if cpu:
    lines.append(cpu)
  if sim:
    lines.append(true_sim_minutes(sorted({run.task for run in sim}), results))
  return '\n'.join(lines)


def true_sim_minutes(task_names, results='results'):
  """The --dry_run line of true-simulator episode times: the median wall time of each task's recorded episodes
  (results/true_sim/<task>.jsonl, with their thread counts), where there are any."""
  found = []
  for task in task_names:
    episodes = [r for r in rundir.read_jsonl(os.path.join(results, 'true_sim', f'{task}.jsonl')) if 'seconds' in r]
    if episodes:
      minutes = float(np.median([r['seconds'] for r in episodes])) / 60
      threads = sorted({r.get('threads') for r in episodes if r.get('threads')})
      found.append(f"{task} {minutes:.0f} min ({len(episodes)} episodes, {'/'.join(map(str, threads))} threads)")
  return ('true-simulator episodes, median wall time of the recorded ones: ' + (', '.join(found) or 'none recorded') +
          '; a stopped episode resumes at its last step')


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


def cpu_hours(train, machines=None):
  """The --dry_run line of expected CPU hours per task for training runs of reduced compute (gin/quick.gin, or
  any whose episodes take under an hour on a CPU), scaled from the committed benchmark records of this CPU's
  model (planet.records.episode_seconds); '' where there are none or no record fits."""
  device, column = records.cpu_column(machines)
  hours = {}
  for run in train:
    if run.task == 'multitask':
      continue
    found = cli.files_bindings(run.gin_files)
    try:
      number = {key: int(found[key]) for key in (
          'train.batch_size', 'train.chunk_length', 'train.collect_interval', 'cem_plan.candidates',
          'cem_plan.iterations', 'cem_plan.horizon', 'make_env.max_env_steps', 'make_env.action_repeat',
          'train.total_episodes', 'train.seed_episodes')}
    except (KeyError, ValueError):
      continue
    seconds = records.episode_seconds(
        run.task, number['make_env.max_env_steps'] // number['make_env.action_repeat'],
        number['train.collect_interval'], number['train.batch_size'] * number['train.chunk_length'],
        number['cem_plan.candidates'] * number['cem_plan.iterations'] * number['cem_plan.horizon'], column)
    if seconds is not None and seconds < 3600:
      planned = number['train.total_episodes'] - number['train.seed_episodes']
      hours[run.task] = seconds * planned / 3600
  if not hours:
    return ''
  measured = column.get('training_episode_cartpole')  # A whole gin/quick.gin episode, for comparison.
  return (f'CPU time per run, scaled from the benchmark records of {device} (train step, plan call, env step; '
          'a lower bound: test episodes, tracing and small batches\' lower efficiency not counted): ' +
          ', '.join(f'{task} {value:.1f} h' for task, value in hours.items()) +
          (f"; measured: a whole quick cartpole episode took {measured['value']:.0f} s (training_episode_cartpole)"
           if measured else ''))


def check_configurations(selected):
  """Parses every distinct training configuration in one subprocess (TensorFlow stays out of this process).
  Returns [(run name, error)]."""
  configurations, owners = [], []
  for run in selected:
    if run.kind == 'train' and (list(run.gin_files), []) not in configurations:
      configurations.append((list(run.gin_files), []))
      owners.append(run.name)
  if not configurations:
    return []
  result = subprocess.run([sys.executable, '-m', 'planet.cli', 'check'], input=json.dumps(configurations),
                          capture_output=True, text=True, cwd=cli.REPO_ROOT, check=False)
  if result.returncode:
    return [('(configuration check)', (result.stderr.strip().splitlines() or ['failed'])[-1])]
  return [(owners[index], error) for index, error in json.loads(result.stdout)]


# --- Running one run: the command, the environment, and the subprocess that dies with its Ray worker.

def command(run, results='results', threads=None):
  if run.kind == 'train':
    return [sys.executable, os.path.join(cli.REPO_ROOT, 'scripts', 'train.py'),
            *[f'--gin_file={path}' for path in run.gin_files], f'--gin_param=train.seed={run.seed}',
            f'--logdir={run.path}', '--no_progress']
  horizon, iterations, candidates, top_k = run.setting
  return [sys.executable, os.path.join(cli.REPO_ROOT, 'scripts', 'true_sim.py'), f'--task={run.task}',
          f'--horizon={horizon}', f'--iterations={iterations}', f'--candidates={candidates}', f'--top_k={top_k}',
          f'--std_estimator={run.variant}', f'--episode={run.seed}', f'--record={run.path}', '--no_progress',
          *([f'--threads={threads}'] if threads else [])]


def environment(cpus, gpu_ids):
  """The run's environment: threads = its CPUs, GPU memory growth on (several runs may share a GPU), and the
  renderer's EGL device set to the run's GPU (MuJoCo's EGL numbering does not follow CUDA_VISIBLE_DEVICES)."""
  env = dict(os.environ)
  threads = str(max(1, int(cpus)))
  env.update(OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS='2',
             TF_FORCE_GPU_ALLOW_GROWTH='true')
  if gpu_ids:
    env['MUJOCO_EGL_DEVICE_ID'] = str(gpu_ids[0])
  return env


STOP_SECONDS = 120  # How long a stopped run may take to save its progress and exit before it is killed.


def _die_with_parent():
  """In the child, before exec: receive SIGTERM when the parent (the Ray worker) dies (Linux prctl)."""
  try:
    ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
  except OSError:
    pass


def execute(run, cpus=1, gpu_ids=(), results='results', threads=None):
  """Runs one run as a subprocess to its end; returns (exit code, last stderr line)."""
  if run.kind == 'train':
    os.makedirs(run.path, exist_ok=True)
  log = _log_path(run)
  with open(log, 'a') as stderr:
    process = _start(run, stderr, environment(cpus, gpu_ids), results, threads)
    try:
      code = None
      while code is None:  # Short waits: a cancel's KeyboardInterrupt only lands between Python instructions.
        try:
          code = process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
          pass
    except KeyboardInterrupt:  # The sweep is being stopped (ray.cancel): the run stops cleanly, saving its progress.
      _stop([process], STOP_SECONDS)
      code = process.returncode
  return code, _last_line(log)


def _log_path(run):
  """Where a run's subprocess writes its stderr: <run directory>/sweep.log (true-simulator episodes: their task's
  job folder)."""
  log = rundir.RunDir(run.path if run.kind == 'train' else os.path.dirname(run.path)).sweep_log
  os.makedirs(os.path.dirname(log), exist_ok=True)
  return log


def _start(run, stderr, env, results='results', threads=None):
  """Starts a run's subprocess, its stderr appended to the open file `stderr` after a line with the command."""
  args = command(run, results, threads)
  stderr.write(f'--- {time.strftime("%Y-%m-%d %H:%M:%S")} {" ".join(args)}\n')
  stderr.flush()
  return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=cli.REPO_ROOT,
                          preexec_fn=_die_with_parent)


def _stop(processes, seconds):
  """Stops running processes cleanly (SIGTERM: a run ends its episode, saves its progress and exits 130), killing
  any still running `seconds` after."""
  for process in processes:
    if process.poll() is None:
      process.terminate()
  deadline = time.time() + seconds
  for process in processes:
    try:
      process.wait(timeout=max(0.1, deadline - time.time()))
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()


def _last_line(log):
  """A run log's last line, which says why the run ended; gin's 'In call to configurable ...' lines after an
  exception's own line are skipped."""
  with open(log) as f:
    lines = [line.strip() for line in f if line.strip() and not line.strip().startswith('In call to configurable')]
  return lines[-1] if lines else ''


def retriable(code):
  """Only crashes (exit 1, or killed by a signal other than a stop) are worth another try."""
  return code == cli.EXIT_CRASH or (code < 0 and -code not in (signal.SIGINT, signal.SIGTERM))


def merge_true_sim(results):
  """Appends finished per-job true-simulator records to results/true_sim/<task>.jsonl (the driver alone writes
  there) and removes the job files. Returns the number merged."""
  jobs = os.path.join(results, 'true_sim', 'jobs')
  merged = 0
  if not os.path.isdir(jobs):
    return 0
  for task in sorted(os.listdir(jobs)):
    for name in sorted(os.listdir(os.path.join(jobs, task))):
      if name.endswith('.json'):
        path = os.path.join(jobs, task, name)
        with open(path) as f:
          record = json.load(f)
        rundir.append_jsonl(os.path.join(results, 'true_sim', f'{task}.jsonl'), record)
        os.remove(path)
        merged += 1
  return merged


def collect(selected, results='results'):
  """Copies the small files of every finished training run into results/ (the layout scripts/plot.py reads)."""
  copied = []
  for run in selected:
    if run.kind == 'train' and status(run, results)[0] == 'done':
      copied.append(rundir.collect_run(run.path, results, task=run.task, config=run.config, seed=run.seed))
  return copied


def launch(selected, cpus=1, gpus=0.0, memory_gb=None, retries=2, address=None, results='results', threads=None,
           ray_init=None, bar=None):
  """Runs every unfinished run as one Ray task (embedded single-machine Ray by default; `address='auto'` joins a
  cluster started with `ray start`). Crashes and lost workers are retried up to `retries` times; other exits are
  reported. While runs go on, their episodes are counted every PROGRESS_SECONDS: a progress bar with `bar` (default:
  when stderr is a terminal), else a log line every PROGRESS_LOG_SECONDS. Returns {run name: (exit code, last line)}
  of the runs started."""
  import ray  # pylint: disable=import-outside-toplevel  # Only the launcher needs Ray (an optional extra).
  states = {run: status(run, results)[0] for run in selected}
  todo = [run for run in selected if states[run] in ('not started', 'partial', 'failed')]
  # Runs another process holds (another sweep, or the runs of a driver killed with SIGKILL, still ending): never a
  # second writer; they are waited for, and started here if they stop unfinished.
  waiting = [run for run in selected if states[run] == 'running']
  if waiting:
    logging.warning('waiting for %d run(s) another process is running: %s', len(waiting),
                    ', '.join(run.name for run in waiting[:5]))
  if not todo and not waiting:
    logging.info('nothing to start: every selected run is done')
    return {}
  if not ray.is_initialized():  # 'local': a new embedded instance, never another sweep's by accident.
    ray.init(address=address or 'local', **(ray_init or {}))
  options = dict(num_cpus=cpus, num_gpus=gpus, max_retries=0)
  if memory_gb:
    options['memory'] = int(memory_gb * 1024 ** 3)

  @ray.remote
  def task(run):
    return execute(run, cpus, ray.get_gpu_ids(), results, threads)

  attempts = collections.Counter()
  pending = {task.options(**options).remote(run): run for run in todo}
  outcomes = {}
  # ray.init made SIGTERM a bare exit: both it and Ctrl-C now stop the runs below, and the caller's handlers return.
  handlers = {}
  if threading.current_thread() is threading.main_thread():  # Only the main thread may set handlers.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    cli.stop_on_signals()
  watch = _ProgressWatch(selected, results, sys.stderr.isatty() if bar is None else bar)
  try:
    while pending or waiting:
      watch.update()
      for run in list(waiting):
        state = status(run, results)[0]
        if state != 'running':  # Its other process ended: done, or to be continued here.
          waiting.remove(run)
          if state != 'done':
            pending[task.options(**options).remote(run)] = run
      if not pending:
        time.sleep(1.0)
        continue
      # A wait with a timeout: a blocking one holds off Ctrl-C and SIGTERM until some run ends (hours).
      done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
      if not done:
        continue
      run = pending.pop(done[0])
      watch.update(force=True)
      attempts[run.name] += 1
      try:
        code, line = ray.get(done[0])
      except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.RayTaskError) as e:
        code, line = cli.EXIT_CRASH, f'lost worker: {type(e).__name__}'
      outcomes[run.name] = (code, line)
      if retriable(code) and attempts[run.name] <= retries:
        logging.warning('%s crashed (exit %d: %s); retry %d of %d', run.name, code, line, attempts[run.name], retries)
        pending[task.options(**options).remote(run)] = run
      else:
        logging.info('%s: exit %d %s', run.name, code, line if code else '')
  except KeyboardInterrupt:
    # A cancel raises KeyboardInterrupt in each running task, which then sends SIGTERM to its run and waits for it:
    # scripts/train.py and scripts/true_sim.py stop on it with their progress saved (exit 130).
    logging.warning('stopping %d run(s): %s', len(pending), ', '.join(sorted(run.name for run in pending.values())))
    for ref in pending:
      ray.cancel(ref)
    ray.wait(list(pending), num_returns=len(pending), timeout=STOP_SECONDS + 10)
    ray.shutdown()
    raise
  finally:
    watch.close()
    for sig, handler in handlers.items():
      signal.signal(sig, handler)
  return outcomes


class _ProgressWatch:
  """The launcher's progress: `update()` recounts the runs' episodes every PROGRESS_SECONDS into a tqdm bar (its
  time left is at the pace since the sweep started), or without a bar logs `progress_line` every
  PROGRESS_LOG_SECONDS; log lines in between are printed above the bar."""

  def __init__(self, selected, results, bar):
    self.selected, self.results = selected, results
    self.start = progress(selected, results)
    self.kind = 'train' if 'train' in self.start else 'truesim'
    self.started = self.counted = time.monotonic()
    self.bar = self.redirect = None
    if bar and self.kind in self.start:
      done, planned = self.start[self.kind]
      self.bar = tqdm(total=planned, initial=done, unit='episode', dynamic_ncols=True, smoothing=0,
                      desc='training episodes' if self.kind == 'train' else 'true-simulator episodes')
      self.redirect = tqdm_logging.logging_redirect_tqdm()
      self.redirect.__enter__()

  def update(self, force=False):
    """Recounts once its interval has passed; a bar also at once with `force` (a run ended, or the sweep)."""
    now = time.monotonic()
    if not (force and self.bar) and now - self.counted < (PROGRESS_SECONDS if self.bar else PROGRESS_LOG_SECONDS):
      return
    self.counted = now
    if self.bar:  # Only the kind it draws.
      self.bar.n = progress([run for run in self.selected if run.kind == self.kind], self.results)[self.kind][0]
      self.bar.refresh()
    else:
      logging.info('progress: %s', progress_line(progress(self.selected, self.results), self.start, now - self.started))

  def close(self):
    if self.bar:
      self.update(force=True)
      self.redirect.__exit__(None, None, None)
      self.bar.close()


# --- Runs per GPU (`scripts/sweep.py ... --measure_sharing 1,2,4`): one configuration run 1, 2, 4, ... at a time on
# one device, each level timed by its runs' episodes, so that --gpus is chosen from a measurement on the user's own
# GPU. Runs that share a GPU fill the gaps one run leaves (small kernels, waits on its environment); how much slower
# each then runs decides whether sharing saves GPU-hours.
SHARING_EPISODES = 10  # By default a level ends once each of its runs has this many timed episodes (or at its limit).
SHARING_STOP_SECONDS = 60  # After the measurement, how long a run may take to stop cleanly before it is killed.


def sharing_summary(levels, episodes=1000):
  """{runs at once: [logger.episode_times of each run, None where it timed no episode]} -> one row per level,
  fewest runs first: the median episode of its runs, the episodes per hour of all of them together, that against
  one run alone (`vs_one_run`: 1.6 means sharing did 1.6 times the work of one run per GPU), and the hours of an
  `episodes`-episode run at that level and its GPU-hours (hours / runs, the runs sharing one GPU)."""
  rows, alone = [], None
  for count in sorted(levels):
    timed = [times for times in levels[count] if times]
    if len(timed) < len(levels[count]) or not timed:
      missing = len(levels[count]) - len(timed)
      rows.append(dict(runs=count, error=f'{missing} of {len(levels[count])} runs timed no episode within the time '
                                         'limit: raise --seconds'))
      continue
    walls = [times['wall'] for times in timed]
    row = dict(runs=count, episode_s=round(float(np.median(walls)), 3),
               episodes_per_hour=round(sum(3600 / wall for wall in walls), 1),
               timed_episodes=sum(times['episodes'] for times in timed))
    for part in ('update', 'collect', 'act', 'env'):
      if all(part in times for times in timed):
        row[f'{part}_s'] = round(float(np.median([times[part] for times in timed])), 3)
    hours = row['episode_s'] * episodes / 3600
    row.update(hours_per_run=round(hours, 2), device_hours_per_run=round(hours / count, 2))
    if count == 1:
      alone = row['episodes_per_hour']
    if alone:
      row['vs_one_run'] = round(row['episodes_per_hour'] / alone, 3)
    rows.append(row)
  return rows


def sharing_table(record):
  """The --measure_sharing result as text: one line per level, then what it means for --gpus."""
  hours = 'CPU-hours per run' if record['device'].startswith('CPU') else 'GPU-hours per run'
  lines = [f"{record['configuration']} on {record['device']}, {record['cpus_per_run']} CPU thread(s) per run:",
           f"{'runs':>4}  {'episode':>9}  {'episodes/hour':>13}  {'vs one run':>10}  {hours:>17}  GPU memory per run"]
  for row in record['levels']:
    if 'error' in row:
      lines.append(f"{row['runs']:>4}  {row['error']}")
      continue
    ratio = f"{row['vs_one_run']:.2f}x" if 'vs_one_run' in row else '-'
    memory = '-'
    if 'gpu_peak_mib_per_run' in row:
      memory = f"{row['gpu_peak_mib_per_run'] / 1024:.1f} GiB (TensorFlow's peak)"
    lines.append(f"{row['runs']:>4}  {row['episode_s']:>8.2f}s  {row['episodes_per_hour']:>13.0f}  {ratio:>10}  "
                 f"{row['device_hours_per_run']:>17.2f}  {memory}")
  best = max((row for row in record['levels'] if 'vs_one_run' in row), key=lambda row: row['vs_one_run'],
             default=None)
  if best:
    where = f'on this machine: {best["runs"]} run(s) at once'
    if not record['device'].startswith('CPU'):
      where = f'per GPU: {best["runs"]} run(s) at once (--gpus {1 / best["runs"]:g})'
    lines.append(f"most work {where}, {best['vs_one_run']:.2f}x the episodes per hour of one run; each run then "
                 f"takes {best['hours_per_run']:.1f} h for {record['episodes']} episodes")
  return '\n'.join(lines)


def _device_name(log):
  """The GPU a run's log names (scripts/train.py writes 'GPU: <names>; XLA ...'), else this machine's CPU."""
  try:
    with open(log) as f:
      found = [line.split('GPU: ', 1)[1].split(';')[0].strip() for line in f if 'GPU: ' in line]
    if found:
      return found[0]
  except OSError:
    pass
  return machine.cpu_description()


def _timed(rows):
  """logger.episode_times of a run's metrics lines so far, or None before its first timed episode."""
  try:
    return logger.episode_times(rows)
  except ValueError:
    return None


def _metrics(run):
  return rundir.read_jsonl(rundir.RunDir(run.path).metrics)


def _sharing_level(run, count, seconds, env, workdir, progress, episodes):
  """Runs `count` copies of `run` (seeds 0..count-1) at once until each has `episodes` timed episodes or
  `seconds` have passed; returns their episode_times (None where a run timed none) and their GPU memory peaks."""
  runs = [dataclasses.replace(run, seed=seed, path=os.path.join(workdir, f'{count}_at_once', f'seed{seed}'))
          for seed in range(count)]
  processes, logs = [], []
  bar = tqdm(total=count * episodes, desc=f'{count} run(s) at once', unit='episode', disable=not progress)
  try:
    for each in runs:
      os.makedirs(each.path, exist_ok=True)
      logs.append(_log_path(each))
      with open(logs[-1], 'a') as stderr:
        processes.append(_start(each, stderr, env))
    deadline = time.time() + seconds
    while time.time() < deadline:
      for each, process, log in zip(runs, processes, logs):
        code = process.poll()
        if code is not None and code != cli.EXIT_OK:
          raise RuntimeError(f'{each.name} exited with code {code}: {_last_line(log)} (its directory: {each.path})')
      timed = [_timed(_metrics(each)) for each in runs]
      bar.n = sum(min(times['episodes'], episodes) if times else 0 for times in timed)
      bar.refresh()
      if all(times and times['episodes'] >= episodes for times in timed):
        break
      if all(process.poll() is not None for process in processes):
        break
      time.sleep(2.0)
  finally:
    bar.close()
    _stop(processes, SHARING_STOP_SECONDS)
  rows = [_metrics(each) for each in runs]
  peaks = [max((row.get('gpu_peak_mib') or 0 for row in lines), default=0) for lines in rows]
  return [_timed(lines) for lines in rows], peaks, logs


def sharing_selection(selected, counts):
  """(the run whose configuration --measure_sharing times: the first selected training run, [run counts]) from the
  selected runs and the counts' text ('1,2,4'); ValueError for bad input."""
  train = [run for run in selected if run.kind == 'train']
  if not train:
    raise ValueError('--measure_sharing times training runs, and this selection has none: use e.g. table1')
  try:
    levels = [int(count) for count in counts.split(',')]
  except ValueError:
    raise ValueError(f'--measure_sharing {counts}: give run counts separated by commas, e.g. 1,2,4') from None
  others = len({run.gin_files for run in train}) - 1
  logging.info('timing %s at %s run(s) at once%s', train[0].name, counts,
               f' ({others} other configuration(s) selected: --tasks and --variants pick one)' if others else '')
  return train[0], levels


def measure_sharing(run, levels, seconds, cpus=1, gpu=None, progress=True, timed_episodes=SHARING_EPISODES,
                    episodes=1000):
  """Runs the configuration of training run `run` 1, 2, ... at a time (`levels`, ascending, starting with 1: one run
  alone is the baseline, and it also fills a persistent XLA cache that the later levels load their compiled
  functions from), in run directories under a temporary folder that is removed afterwards. `cpus`: the threads of
  each run (the sweep's --cpus); `gpu`: the GPU they share (all of this machine's by default, i.e. TensorFlow's
  first). A level ends once each of its runs has `timed_episodes` timed episodes, or after `seconds`; `progress`
  shows a bar per level (scripts/sweep.py: when stderr is a terminal, so that a log file is not flooded). Returns the
  record (`sharing_summary`'s rows under 'levels', for runs of `episodes` episodes). A run that fails raises
  RuntimeError naming it; its directory is kept."""
  if not levels or levels[0] != 1 or list(levels) != sorted(set(levels)) or min(levels) < 1:
    raise ValueError(f'--measure_sharing {",".join(map(str, levels))}: give run counts in ascending order starting '
                     'with 1 (one run alone is the baseline and fills the compile cache), e.g. 1,2,4')
  if seconds <= 0 or timed_episodes < 1:
    raise ValueError(f'--seconds {seconds:g}, --timed_episodes {timed_episodes}: a level needs a positive time '
                     'limit and at least one timed episode per run')
  workdir = tempfile.mkdtemp(prefix='planet-sharing-')
  env = environment(cpus, [gpu] if gpu is not None else [])
  if gpu is not None:
    env['CUDA_VISIBLE_DEVICES'] = str(gpu)
  if 'persistent_cache_directory' not in env.get('TF_XLA_FLAGS', ''):
    cache = f"--tf_xla_persistent_cache_directory={os.path.join(workdir, 'xla_cache')}"
    env['TF_XLA_FLAGS'] = f"{env.get('TF_XLA_FLAGS', '')} {cache}".strip()
  # The runs after the single one only read the cache: none then reads an entry that another is writing (which fails
  # the reader's compile; docs/gpu.md), and what the single run did not compile each compiles alone.
  shared_env = dict(env)
  if 'persistent_cache_read_only' not in env['TF_XLA_FLAGS']:
    shared_env['TF_XLA_FLAGS'] += ' --tf_xla_persistent_cache_read_only=true'
  measured, peaks, device = {}, {}, None
  failed = False
  try:
    for count in levels:
      measured[count], peaks[count], logs = _sharing_level(run, count, seconds, env if count == 1 else shared_env,
                                                           workdir, progress, timed_episodes)
      device = device or _device_name(logs[0])
  except RuntimeError:
    failed = True
    raise
  finally:
    if not failed:
      shutil.rmtree(workdir, ignore_errors=True)
  rows = sharing_summary(measured, episodes)
  for row in rows:
    if any(peaks[row['runs']]):
      row['gpu_peak_mib_per_run'] = max(peaks[row['runs']])
  return dict(name='runs_per_gpu', configuration=run.name, gin_files=list(run.gin_files), device=device,
              cpus_per_run=max(1, int(cpus)), max_seconds_per_level=seconds, timed_episodes=timed_episodes,
              episodes=episodes, levels=rows,
              commit=machine.commit(), time=time.strftime('%Y-%m-%d %H:%M:%S'))
