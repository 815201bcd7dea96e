"""scripts/sweep.py: the paper's run matrix agrees with the figures, status is read from run directories, and the
Ray launcher runs, retries a crashed run that then continues its counters, and starts nothing the second time;
SIGTERM to the driver stops it and its runs cleanly."""
import os
import signal
import subprocess
import sys
import threading
import time

import gin
import pytest

from conftest import ROOT
from planet import cli
from planet import figures
from planet import logger
from planet import rundir
from planet import sweep


def test_matrices_cover_every_figure_with_the_directories_train_py_uses(tmp_path):
  train_variants = {v for variants, kind in sweep.MATRICES.values() if kind == 'train' for v in variants}
  for _, variants in figures.FIGURES.values():
    assert {name for name, _ in variants} <= train_variants
  runs = sweep.runs('all', logs=str(tmp_path), episodes=10)
  # 10 single-task variants x 6 tasks x 5 seeds + 5 multi-task runs; 10 true-simulator episodes for each task at
  # the paper's setting and for cheetah at the 16 other settings of Fig. 12's grid.
  assert len(sweep.cem_sweep_settings()) == 17
  assert len(runs) == len(train_variants - {'multitask'}) * 6 * 5 + 5 + 10 * (6 + 16)
  runs = [run for run in runs if run.kind == 'train']
  assert len({run.path for run in runs}) == len(runs)
  # Each run directory is the one scripts/train.py picks for the same command (cli.default_logdir after parsing).
  for run in [r for r in runs if r.seed == 1 and r.task in ('cheetah', 'multitask')]:
    cli.parse(list(run.gin_files), [f'train.seed = {run.seed}'])
    assert os.path.join(str(tmp_path), os.path.relpath(cli.default_logdir(list(run.gin_files)), 'logs')) == run.path
    parts = run.path.split(os.sep)
    assert (parts[-3], parts[-2]) == ((run.task, run.variant) if run.task != 'multitask' else ('multitask', 'planet'))
  # Execution-only overlays keep the names; experiment overlays change them.
  assert sweep.runs('table1', ['cheetah'], seeds=[0], extra_gin_files=['gin/gpu.gin'])[0].path == os.path.join(
      'logs', 'cheetah', 'planet', 'seed0')
  assert sweep.runs('table1', ['cheetah'], seeds=[0], extra_gin_files=['gin/quick.gin'])[0].path == os.path.join(
      'logs', 'cheetah', 'quick', 'seed0')
  assert len(sweep.runs('fig12', episodes=2)) == 2 * 17
  with pytest.raises(ValueError, match='unknown matrix'):
    sweep.runs('fig7')


def _fake_run_dir(path, episodes, total=None, code=None, reason=''):
  os.makedirs(os.path.join(path, 'train_episodes'))
  for i in range(episodes):
    open(os.path.join(path, 'train_episodes', f'{i:06d}-11.npz'), 'w').close()
  if code is not None:
    rundir.write_exit(path, code, reason, episodes, total)


def test_status_of_made_up_run_directories(tmp_path):
  runs = sweep.runs('fig4', ['cheetah'], ['planet', 'gru', 'ssm'], [0, 1], logs=str(tmp_path))
  by_name = {run.name: run for run in runs}
  _fake_run_dir(by_name['cheetah/planet/seed0'].path, 1000, 1000, cli.EXIT_OK, 'complete')
  _fake_run_dir(by_name['cheetah/planet/seed1'].path, 40, 1000, cli.EXIT_INTERRUPTED, 'interrupted')
  _fake_run_dir(by_name['cheetah/gru/seed0'].path, 12, 1000, cli.EXIT_DIVERGED, 'the loss became nan at grad step 9')
  _fake_run_dir(by_name['cheetah/gru/seed1'].path, 3)
  lock = rundir.Lock(by_name['cheetah/gru/seed1'].path)
  try:
    states = {run.name: sweep.status(run) for run in runs}
    table = sweep.status_table(runs)
  finally:
    lock.release()
  assert states == {
      'cheetah/planet/seed0': ('done', '1000 episodes'),
      'cheetah/planet/seed1': ('partial', '40 of 1000 episodes'),
      'cheetah/gru/seed0': ('failed', 'exit 3: the loss became nan at grad step 9'),
      'cheetah/gru/seed1': ('running', '3 episodes'),
      'cheetah/ssm/seed0': ('not started', ''), 'cheetah/ssm/seed1': ('not started', '')}
  assert table.splitlines()[-1] == '1 done, 1 running, 1 partial, 1 failed, 2 not started (6 runs)'
  assert sweep.retriable(cli.EXIT_CRASH) and sweep.retriable(-signal.SIGKILL)
  assert not any(sweep.retriable(code) for code in (cli.EXIT_OK, cli.EXIT_BAD_INPUT, cli.EXIT_DIVERGED,
                                                   cli.EXIT_BUSY, cli.EXIT_INTERRUPTED, -signal.SIGTERM))


def test_dry_run_summary_does_not_assume_what_sharing_a_gpu_gives():
  selected = sweep.runs('table1', ['cheetah'], seeds=[0, 1])
  alone, shared = sweep.plan_summary(selected, 1), sweep.plan_summary(selected, 0.25)
  assert '20-40 GPU-hours for these 2 runs one per GPU' in alone and 'share' not in alone
  assert '20-40 GPU-hours' in shared and '4 runs share a GPU' in shared and 'not measured yet' in shared


def test_dry_run_checks_every_configuration(tmp_path):
  good = sweep.runs('fig9', ['cheetah'], seeds=[0])
  broken = tmp_path / 'broken.gin'
  broken.write_text('RSSM.no_such_thing = 1\n')
  bad = sweep.runs('table1', ['cheetah'], seeds=[0], extra_gin_files=[str(broken)])
  (name, error), = sweep.check_configurations(good + bad)  # One subprocess parses them all; only one is bad.
  assert name == bad[0].name and "'no_such_thing'" in error


def _pid_of(argument):
  """The process whose command line holds `argument` (e.g. its run directory's --logdir=...), or None."""
  for pid in os.listdir('/proc'):
    try:
      if pid.isdigit() and argument.encode() in open(f'/proc/{pid}/cmdline', 'rb').read():
        return int(pid)
    except OSError:
      pass
  return None


@pytest.mark.slow
def test_ray_launcher_retries_a_crash_and_resumes(tmp_path):
  ray = pytest.importorskip('ray')
  overlay = tmp_path / 'fake.gin'
  overlay.write_text("train.task = 'fake'\nmake_env.max_env_steps = 20\ntrain.total_episodes = 4\n")
  files = (os.path.join(ROOT, 'gin', 'base.gin'), os.path.join(ROOT, 'gin', 'debug.gin'), str(overlay))
  runs = [sweep.Run('train', 'fake', 'planet', seed, str(tmp_path / f'seed{seed}'), files) for seed in (0, 1)]
  crashed = []

  def crash_first_run():  # An OOM kill, say: SIGKILL once the first run has two episodes on disk.
    deadline = time.time() + 400
    while time.time() < deadline and not crashed:
      episodes = os.path.join(runs[0].path, 'train_episodes')
      pid = _pid_of(f'--logdir={runs[0].path}')
      if pid and os.path.isdir(episodes) and len(os.listdir(episodes)) >= 2:
        os.kill(pid, signal.SIGKILL)
        crashed.append(len(os.listdir(episodes)))
      time.sleep(0.2)

  watcher = threading.Thread(target=crash_first_run, daemon=True)
  watcher.start()
  try:
    outcomes = sweep.launch(runs, cpus=1, retries=2, results=str(tmp_path / 'results'),
                            ray_init=dict(num_cpus=2, include_dashboard=False, log_to_driver=False))
    watcher.join(timeout=10)
    assert crashed, 'the first run finished before it could be killed'
    assert outcomes == {run.name: (cli.EXIT_OK, outcomes[run.name][1]) for run in runs}
    assert open(os.path.join(runs[0].path, 'sweep.log')).read().count('--- ') == 2  # Started, crashed, retried.
    records = logger.read_metrics(runs[0].path)
    assert [r['episodes'] for r in records] == [1, 2, 3, 4]  # Counters continue after the crash.
    assert [r['grad_steps'] for r in records] == sorted(r['grad_steps'] for r in records)
    assert all(sweep.status(run)[0] == 'done' for run in runs)
    assert sweep.launch(runs, cpus=1) == {}  # A second sweep call starts nothing.
    copied = sweep.collect(runs, str(tmp_path / 'results'))
    assert sorted(os.listdir(os.path.join(copied[0]))) >= ['command.txt', 'config.gin', 'metrics.jsonl']
  finally:
    ray.shutdown()
    gin.clear_config()


@pytest.mark.slow
def test_sigterm_to_the_sweep_stops_its_runs_with_their_progress_saved(tmp_path):
  pytest.importorskip('ray')
  results = tmp_path / 'results'
  job = results / 'true_sim' / 'jobs' / 'cartpole' / sweep.true_sim_job_name('std', sweep.CEM_PAPER, 0)
  args = [sys.executable, os.path.join(ROOT, 'scripts', 'sweep.py'), 'truesim', '--tasks', 'cartpole', '--episodes',
          '1', '--cpus', '1', '--logs', str(tmp_path / 'logs'), '--results', str(results)]
  process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  try:
    _stop_the_sweep_once_the_episode_runs(process, job)
  finally:  # Nothing outlives a failed test.
    if process.poll() is None:
      process.kill()
    child = _pid_of(f'--record={job}')
    if child:
      os.kill(child, signal.SIGKILL)
  run, = sweep.runs('truesim', ['cartpole'], episodes=1, results=str(results))
  state, detail = sweep.status(run, str(results))  # Left partial: the same command continues the episode.
  assert state == 'partial' and detail.endswith('of 125 steps'), detail


def _stop_the_sweep_once_the_episode_runs(process, job):
  """SIGTERM to the sweep's driver once its true-simulator episode has saved a step; checks that both stop."""
  deadline = time.time() + 300
  while not os.path.exists(f'{job}.partial'):  # The episode (about 8 minutes here) has played its first step.
    assert time.time() < deadline and process.poll() is None, process.communicate()[1][-3000:]
    time.sleep(0.2)
  process.send_signal(signal.SIGTERM)  # What a cluster's scheduler sends to the driver (a blocking wait held it).
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == cli.EXIT_INTERRUPTED, stderr[-3000:]
  assert stderr.strip().splitlines()[-1].startswith('stopped: the running runs were told to stop'), stderr[-3000:]
  deadline = time.time() + 60
  while _pid_of(f'--record={job}'):  # The episode's process ends too: its Ray task passed the stop on (SIGTERM).
    assert time.time() < deadline, 'the true-simulator process outlived the sweep'
    time.sleep(0.2)
  assert 'stopped: the episode so far is saved' in open(job.parent / 'sweep.log').read()  # It stopped cleanly.
