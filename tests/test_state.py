"""planet.experiments.state: a run's state is read from its run directory alone; planned episodes from the gin
files' text."""
import signal

from conftest import fake_run_dir
from planet import cli
from planet import rundir
from planet import tasks as tasks_lib
from planet.experiments import driver
from planet.experiments import matrix
from planet.experiments import processes
from planet.experiments import state


def test_status_of_made_up_run_directories(tmp_path):
  runs = matrix.runs('fig4', ['cheetah'], ['planet', 'gru', 'ssm'], [0, 1], logs=str(tmp_path))
  by_name = {run.name: run for run in runs}
  fake_run_dir(by_name['cheetah/planet/seed0'].path, 1000, 1000, cli.EXIT_OK, 'complete')
  fake_run_dir(by_name['cheetah/planet/seed1'].path, 40, 1000, cli.EXIT_INTERRUPTED, 'interrupted')
  fake_run_dir(by_name['cheetah/gru/seed0'].path, 12, 1000, cli.EXIT_DIVERGED, 'the loss became nan at grad step 9')
  fake_run_dir(by_name['cheetah/gru/seed1'].path, 3)
  lock = rundir.Lock(by_name['cheetah/gru/seed1'].path)
  try:
    states = {run.name: state.status(run) for run in runs}
    table = state.status_table(runs)
  finally:
    lock.release()
  assert states == {
      'cheetah/planet/seed0': ('done', '1000 episodes'),
      'cheetah/planet/seed1': ('partial', '40 of 1000 episodes'),
      'cheetah/gru/seed0': ('failed', 'exit 3: the loss became nan at grad step 9'),
      'cheetah/gru/seed1': ('running', '3 episodes'),
      'cheetah/ssm/seed0': ('not started', ''), 'cheetah/ssm/seed1': ('not started', '')}
  assert table.splitlines()[-2] == '1 done, 1 running, 1 partial, 1 failed, 2 not started (6 runs)'
  # Episodes on disk of planned (gin/base.gin's 1000 per run): 1000 + 40 + 12 + 3 of 6000.
  assert state.progress(runs) == {'train': (1055, 6000)}
  assert table.splitlines()[-1] == '1,055 of 6,000 training episodes (17.6%)'
  assert state.progress_line({'train': (1055, 6000)}, {'train': (1000, 6000)}, 3600).endswith(
      '; about 89.9 h left at the pace since the sweep started')  # 55 episodes an hour, 4945 to go.
  assert processes.retriable(cli.EXIT_CRASH) and processes.retriable(-signal.SIGKILL)
  assert not any(processes.retriable(code) for code in (cli.EXIT_OK, cli.EXIT_BAD_INPUT, cli.EXIT_DIVERGED,
                                                   cli.EXIT_BUSY, cli.EXIT_INTERRUPTED, -signal.SIGTERM))


def test_planned_episodes_are_read_from_the_gin_files(tmp_path):
  # As scripts/train.py counts them: train.total_episodes per task (overlays win), times the tasks of a multitask run.
  quick, = matrix.runs('table1', ['cartpole'], seeds=[0], extra_gin_files=['gin/quick.gin'])
  multitask, = matrix.runs('fig6', variants=['multitask'], seeds=[0])
  assert state.planned_episodes(quick.gin_files) == 150
  assert state.planned_episodes(multitask.gin_files) == 1000 * len(tasks_lib.names())
  macro = tmp_path / 'macro.gin'  # What only gin can evaluate is not guessed.
  macro.write_text('EPISODES = 10\ntrain.total_episodes = %EPISODES\n')
  assert state.planned_episodes(('gin/cartpole.gin', str(macro))) is None


def test_dry_run_lists_episodes_already_merged_into_results_as_done(tmp_path):
  # A fresh clone has no job files, only the records an earlier sweep merged into results/true_sim/<task>.jsonl:
  # those episodes count as done (and are not played again); a record of the other refit does not count.
  runs = matrix.runs('fig12', ['cheetah'], episodes=2, results=str(tmp_path))
  first, second = runs[0], runs[1]
  assert (first.setting, first.seed) != (second.setting, second.seed)
  rundir.append_jsonl(str(tmp_path / 'true_sim' / 'cheetah.jsonl'),
                      {'settings': list(first.setting), 'episode': first.seed, 'std_estimator': 'std', 'return': 1.0})
  rundir.append_jsonl(str(tmp_path / 'true_sim' / 'cheetah.jsonl'),
                      {'settings': list(second.setting), 'episode': second.seed, 'return': 2.0})  # The printed refit.
  lines = driver.run_lines(runs, [state.status(run, str(tmp_path))[0] for run in runs])
  assert lines[0].split()[:2] == [first.name, 'done'] and lines[0].endswith(first.path)
  assert lines[1].split()[1:3] == ['not', 'started']
  assert lines[-1] == f'1 of {len(runs)} already done; the same command without --dry_run starts the other {len(runs) - 1}'
