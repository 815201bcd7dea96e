"""The paper's experiments as data: the runs behind Table 1 and each figure (`MATRICES`), a run's name and
directory, and the true-simulator CEM grid. No TensorFlow, no Ray."""
import collections
import dataclasses
import json
import os
import subprocess
import sys

from planet import config as config_lib
from planet import gin_text
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
# derived from them exactly as scripts/train.py derives its default (config.run_path), and planet.report.figures.FIGURES
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


def reduced_compute(config):
  """Whether a run's <config> starts with the overlay gin/quick.gin: reduced compute, not the paper's."""
  return config.split('-')[0] == 'quick'


PAPER_SEEDS = 5  # Table 1 and the curves: 5 seeds (x 10 test trajectories).
TRUE_SIM_EPISODES = 10  # Our choice for the true-simulator row: 10 episodes per task (the paper does not say).


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
  found = gin_text.files_bindings(gin_files)  # An overlay that includes gin/gpu.gin counts as gin/gpu.gin.
  if all(found.get(key) == 'True' for key in ('Learner.jit_compile', 'Agent.jit_compile')):
    return None
  return ('warning: the runs get a GPU but XLA stays off: add --gin_file=gin/gpu.gin (XLA on, as the GPU figures of '
          'docs/performance.md were measured)')


def parse_seeds(text):
  """Seeds from '0-4' or '0,2' (ranges inclusive, parts comma-separated); None for no text (the paper's five).
  ValueError for anything else."""
  if not text:
    return None
  seeds = []
  for part in text.split(','):
    first, _, last = part.partition('-')
    seeds.extend(range(int(first), int(last or first) + 1))
  return seeds


def _as_runs_read_it(path):
  """A gin file path that names the same file from the repository root, where the runs start: relative to the root
  when it lies inside it, full otherwise. A path that does not exist here is left to gin_text.resolve."""
  if not os.path.exists(path):
    return path
  inside = os.path.relpath(os.path.abspath(path), gin_text.REPO_ROOT)
  return os.path.abspath(path) if inside.startswith(os.pardir) else inside


def runs(matrix, tasks=None, variants=None, seeds=None, episodes=TRUE_SIM_EPISODES, logs='logs', results='results',
         extra_gin_files=()):
  """The runs of a named matrix, cut down by tasks / variants / seeds. `extra_gin_files` (e.g. gin/gpu.gin) are
  added to every training run; overlays that change the experiment also change the run directories. Paths are read
  from the caller's directory, though the runs start in the repository root."""
  logs, results = os.path.abspath(logs), os.path.abspath(results)
  extra_gin_files = [_as_runs_read_it(path) for path in extra_gin_files]
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
                           config_lib.run_path(logs, 'multitask', seed, files[1:]), tuple(files)))
          continue
        for task in names:
          files = [f'gin/{task}.gin', *VARIANTS[variant], *extra_gin_files]
          path = config_lib.run_path(logs, task, seed, files[1:])
          found.append(Run('train', task, variant, seed, path, tuple(files)))
  if kind in ('truesim', 'fig12', 'all'):
    estimators = [v for v in (variants or ['std']) if v in ('std', 'paper')] or ['std']
    jobs = []
    if kind in ('truesim', 'all'):  # Table 1's last row: every task at the paper's setting.
      jobs += [(task, CEM_PAPER) for task in names]
    if kind in ('fig12', 'all'):  # Fig. 12: cheetah over the grid.
      jobs += [(task, setting) for task in (['cheetah'] if kind == 'all' or not tasks else names)
               for setting in cem_sweep_settings() if (task, setting) not in jobs]
    # Episode by episode, the cheapest settings first (simulated steps per plan call: H x I x J): a sweep stopped early
    # has points for every setting it reached, each knob's panel filling from its cheap end.
    jobs.sort(key=lambda job: job[1].horizon * job[1].iterations * job[1].candidates)
    for episode in range(episodes):
      for task, setting in jobs:
        for estimator in estimators:
          record = os.path.join(results, 'true_sim', 'jobs', task, true_sim_job_name(estimator, setting, episode))
          found.append(Run('truesim', task, estimator, episode, record, (), tuple(setting)))
  return found


def true_sim_job_name(estimator, setting, episode, warm_start=False):
  """The file name of one true-simulator episode's record under results/true_sim/jobs/<task>/; while it plays, its
  checkpoint is the same name + '.partial' and its lock + '.lock'."""
  warm = '-warm' if warm_start else ''
  return f'{estimator}{warm}-H{setting[0]}-I{setting[1]}-J{setting[2]}-K{setting[3]}-ep{episode}.json'


def run_configuration_errors(selected):
  """Parses every distinct training configuration in one subprocess (TensorFlow stays out of this process).
  Returns [(run name, error)]."""
  configurations, owners = [], []
  for run in selected:
    if run.kind == 'train' and (list(run.gin_files), []) not in configurations:
      configurations.append((list(run.gin_files), []))
      owners.append(run.name)
  if not configurations:
    return []
  result = subprocess.run([sys.executable, '-m', 'planet.config', 'check'], input=json.dumps(configurations),
                          capture_output=True, text=True, cwd=gin_text.REPO_ROOT, check=False)
  if result.returncode:
    return [('(configuration check)', (result.stderr.strip().splitlines() or ['failed'])[-1])]
  return [(owners[index], error) for index, error in json.loads(result.stdout)]
