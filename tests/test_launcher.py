"""planet.experiments.launcher: collecting keeps the run directory's name and survives a full disk; Ray failing
to start is one line; the Ray launcher runs, retries a crashed run that then continues its counters, and starts nothing the second time; SIGTERM
to the driver stops it and its runs cleanly; a driver killed and rerun duplicates nothing."""
import errno
import logging
import os
import signal
import subprocess
import sys
import threading
import time

import gin
import pytest

from conftest import ROOT
from conftest import fake_run_dir
from conftest import pid_of
from conftest import script
from planet import cli
from planet import logger
from planet import rundir
from planet.experiments import launcher
from planet.experiments import matrix
from planet.experiments import state


def test_collect_keeps_the_run_directory_name_with_every_overlay(tmp_path):
  selected = matrix.runs('fig4', ['cartpole'], ['planet', 'gru'], [0], logs=str(tmp_path / 'logs'),
                        extra_gin_files=['gin/debug.gin'])
  assert [run.name for run in selected] == ['cartpole/debug/seed0', 'cartpole/gru-debug/seed0']
  for run in selected:  # Finished runs, as train.py leaves them.
    fake_run_dir(run.path, 3, total=3, code=cli.EXIT_OK)
    open(os.path.join(run.path, 'metrics.jsonl'), 'w').write('{"episodes": 3}\n')
  copied = launcher.collect(selected, str(tmp_path / 'results'))
  assert [os.path.relpath(path, tmp_path / 'results') for path in copied] == [
      os.path.join('cartpole', 'debug', 'seed0'), os.path.join('cartpole', 'gru-debug', 'seed0')]
  assert state.status_table(selected, str(tmp_path / 'results')).startswith('cartpole/debug/seed0 ')


def test_collection_on_a_full_disk_is_one_line_and_the_same_command_collects(tmp_path, monkeypatch, capsys):
  sweep_script = script('sweep')
  args = ['fig4', '--tasks', 'cartpole', '--variants', 'planet,gru', '--seeds', '0', '--gin_file=gin/debug.gin',
          '--logs', str(tmp_path / 'logs'), '--results', str(tmp_path / 'results')]
  for run in matrix.runs('fig4', ['cartpole'], ['planet', 'gru'], [0], logs=str(tmp_path / 'logs'),
                        extra_gin_files=['gin/debug.gin']):
    fake_run_dir(run.path, 3, total=3, code=cli.EXIT_OK)  # Finished: nothing to start, only to collect.
    open(os.path.join(run.path, 'metrics.jsonl'), 'w').write('{"episodes": 3}\n')
  original = rundir.write_atomically

  def full(path, data):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)

  monkeypatch.setattr(rundir, 'write_atomically', full)
  with pytest.raises(SystemExit) as stopped:
    sweep_script.main(args)
  assert stopped.value.code == cli.EXIT_STORAGE
  error = capsys.readouterr().err.strip().splitlines()[-1]
  assert error.startswith('error: cannot write ') and 'No space left on device' in error and 'rerun' in error
  monkeypatch.setattr(rundir, 'write_atomically', original)
  sweep_script.main(args)  # Space freed: the same command collects both runs.
  assert sorted(os.listdir(tmp_path / 'results' / 'cartpole')) == ['debug', 'gru-debug']


def test_ray_failing_to_start_is_one_line_and_starts_nothing(tmp_path, monkeypatch, capsys):
  sweep_script = script('sweep')

  class SlowRay:  # What Ray 2.x raises when its local node does not come up in time on a loaded machine.
    @staticmethod
    def is_initialized():
      return False

    @staticmethod
    def init(address=None, **kwargs):
      raise Exception('The current node timed out during startup. This could happen because some of the raylet '
                      'failed to startup or the GCS has become overloaded.\nmore detail')

  monkeypatch.setitem(sys.modules, 'ray', SlowRay)
  args = ['fig4', '--tasks', 'cartpole', '--variants', 'planet', '--seeds', '0', '--gin_file=gin/debug.gin',
          '--logs', str(tmp_path / 'logs'), '--results', str(tmp_path / 'results')]
  with pytest.raises(SystemExit) as stopped:
    sweep_script.main(args)
  assert stopped.value.code == cli.EXIT_CRASH
  error = capsys.readouterr().err.strip().splitlines()
  assert len(error) == 1, error
  assert error[0].startswith('error: could not start a local Ray instance: The current node timed out during startup')
  assert 'rerun the same command' in error[0]
  assert not (tmp_path / 'logs').exists()  # Nothing was started.
  with pytest.raises(launcher.RayStartError, match=r'^could not join the Ray cluster at auto: The current node'):
    launcher.launch(matrix.runs('fig4', ['cartpole'], ['planet'], [0], logs=str(tmp_path / 'logs'),
                                extra_gin_files=['gin/debug.gin']), address='auto', results=str(tmp_path / 'results'))


@pytest.mark.slow
def test_ray_launcher_retries_a_crash_and_resumes(tmp_path, caplog, monkeypatch):
  ray = pytest.importorskip('ray')
  overlay = tmp_path / 'fake.gin'
  overlay.write_text("train.task = 'fake'\nmake_env.max_env_steps = 20\ntrain.total_episodes = 4\n")
  files = (os.path.join(ROOT, 'gin', 'base.gin'), os.path.join(ROOT, 'gin', 'debug.gin'), str(overlay))
  runs = [matrix.Run('train', 'fake', 'planet', seed, str(tmp_path / 'logs' / 'fake' / 'planet' / f'seed{seed}'), files)
          for seed in (0, 1)]
  crashed = []

  def crash_first_run():  # An OOM kill, say: SIGKILL once the first run has two episodes on disk.
    deadline = time.time() + 400
    while time.time() < deadline and not crashed:
      episodes = os.path.join(runs[0].path, 'train_episodes')
      pid = pid_of(f'--logdir={runs[0].path}')
      if pid and os.path.isdir(episodes) and len(os.listdir(episodes)) >= 2:
        os.kill(pid, signal.SIGKILL)
        crashed.append(len(os.listdir(episodes)))
      time.sleep(0.2)

  watcher = threading.Thread(target=crash_first_run, daemon=True)
  watcher.start()
  try:
    with caplog.at_level(logging.INFO):  # Without a bar, the progress is logged (here at every recount).
      monkeypatch.setattr(state, "PROGRESS_LOG_SECONDS", 0)
      outcomes = launcher.launch(runs, cpus=1, retries=2, results=str(tmp_path / 'results'), bar=False,
                              ray_init=dict(num_cpus=2, include_dashboard=False, log_to_driver=False))
    watcher.join(timeout=10)
    assert crashed, 'the first run finished before it could be killed'
    assert outcomes == {run.name: (cli.EXIT_OK, outcomes[run.name][1]) for run in runs}
    assert open(os.path.join(runs[0].path, 'sweep.log')).read().count('--- ') == 2  # Started, crashed, retried.
    records = logger.read_metrics(runs[0].path)
    assert [r['episodes'] for r in records] == [1, 2, 3, 4]  # Counters continue after the crash.
    assert [r['grad_steps'] for r in records] == sorted(r['grad_steps'] for r in records)
    counted = [int(m.split(' of 8 training')[0].split()[-1]) for m in caplog.messages if m.startswith('progress: ')]
    assert counted[0] < 8 and counted == sorted(counted), counted  # Recounted from the run directories as they grow.
    assert all(state.status(run)[0] == 'done' for run in runs)
    assert launcher.launch(runs, cpus=1) == {}  # A second sweep call starts nothing.
    copied = launcher.collect(runs, str(tmp_path / 'results'))
    assert {'command.txt', 'config.gin', 'metrics.jsonl', 'run.json'} <= set(os.listdir(copied[0]))
    assert copied[0] == os.path.join(str(tmp_path / 'results'), 'fake', 'planet', 'seed0')
  finally:
    ray.shutdown()
    gin.clear_config()


@pytest.mark.slow
def test_sigterm_to_the_sweep_stops_its_runs_with_their_progress_saved(tmp_path):
  pytest.importorskip('ray')
  results = tmp_path / 'results'
  job = results / 'true_sim' / 'jobs' / 'cartpole' / matrix.true_sim_job_name('std', matrix.CEM_PAPER, 0)
  args = [sys.executable, os.path.join(ROOT, 'scripts', 'sweep.py'), 'truesim', '--tasks', 'cartpole', '--episodes',
          '1', '--cpus', '1', '--logs', str(tmp_path / 'logs'), '--results', str(results)]
  process = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  try:
    _stop_the_sweep_once_the_episode_runs(process, job)
  finally:  # Nothing outlives a failed test.
    if process.poll() is None:
      process.kill()
    child = pid_of(f'--record={job}')
    if child:
      os.kill(child, signal.SIGKILL)
  run, = matrix.runs('truesim', ['cartpole'], episodes=1, results=str(results))
  found, detail = state.status(run, str(results))  # Left partial: the same command continues the episode.
  assert found == 'partial' and detail.endswith('of 125 steps'), detail


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
  while pid_of(f'--record={job}'):  # The episode's process ends too: its Ray task passed the stop on (SIGTERM).
    assert time.time() < deadline, 'the true-simulator process outlived the sweep'
    time.sleep(0.2)
  assert 'stopped: the episode so far is saved' in open(job.parent / 'sweep.log').read()  # It stopped cleanly.


_DRIVER = '''
import sys
from planet.experiments import launcher
from planet.experiments import matrix
logs, results, files = sys.argv[1], sys.argv[2], tuple(sys.argv[3:])
runs = [matrix.Run('train', 'fake', 'planet', seed, f'{logs}/fake/planet/seed{seed}', files) for seed in (0, 1)]
outcomes = launcher.launch(runs, cpus=1, retries=0, results=results, bar=False)
print('outcomes', sorted(code for code, _ in outcomes.values()))
print('collected', len(launcher.collect(runs, results)))
'''


@pytest.mark.slow
def test_the_sweep_driver_killed_and_rerun_duplicates_nothing(tmp_path):
  pytest.importorskip('ray')
  overlay = tmp_path / 'fake.gin'
  overlay.write_text("train.task = 'fake'\nmake_env.max_env_steps = 20\ntrain.total_episodes = 6\n"
                     'train.test_every = 1000\ntrain.video_every = 0\n')
  files = [os.path.join(ROOT, 'gin', 'base.gin'), os.path.join(ROOT, 'gin', 'debug.gin'), str(overlay)]
  logs, results = tmp_path / 'logs', tmp_path / 'results'
  command = [sys.executable, '-c', _DRIVER, str(logs), str(results), *files]
  driver = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  episodes = [logs / 'fake' / 'planet' / f'seed{seed}' / 'train_episodes' for seed in (0, 1)]
  rerun, out, err = None, tmp_path / 'rerun.out', tmp_path / 'rerun.err'
  try:
    deadline = time.time() + 300
    while not all(path.is_dir() and len(os.listdir(path)) >= 2 for path in episodes):
      assert time.time() < deadline and driver.poll() is None, driver.communicate()[1][-3000:]
      time.sleep(0.2)
    driver.kill()  # SIGKILL: no handler runs, the runs are mid-episode.
    driver.wait()
    # Ray ends the dead driver's workers and so their runs (SIGTERM, or SIGKILL from its reaper): wait for both.
    deadline = time.time() + 120
    while any(rundir.is_locked(str(path.parent)) for path in episodes):  # Their lock goes with their last file.
      assert time.time() < deadline, 'a run outlived its killed driver by two minutes'
      time.sleep(0.2)
    # The test holds seed0 as another process (another sweep, or a run still ending) would: the rerun must wait for
    # it, never start a second writer, and continue it once it is free.
    held = rundir.Lock(str(episodes[0].parent))
    with open(out, 'w') as stdout, open(err, 'w') as stderr:
      rerun = subprocess.Popen(command, cwd=ROOT, stdout=stdout, stderr=stderr)
    deadline = time.time() + 300
    while 'waiting for 1 run(s) another process is running: fake/planet/seed0' not in err.read_text():
      assert time.time() < deadline and rerun.poll() is None, err.read_text()[-3000:]
      time.sleep(0.2)
    while (rundir.read_exit(str(episodes[1].parent)) or {}).get('episodes') != 6:  # seed1 goes on meanwhile.
      assert time.time() < deadline and rerun.poll() is None, err.read_text()[-3000:]
      time.sleep(0.2)
    assert len(open(episodes[0].parent / 'command.txt').read().splitlines()) == 1  # seed0 was never restarted.
    held.release()
    rerun.wait(timeout=600)
  finally:
    if rerun is not None and rerun.poll() is None:
      rerun.kill()
    for seed in (0, 1):  # Nothing outlives a failed test.
      pid = pid_of(f'--logdir={logs / "fake" / "planet" / f"seed{seed}"}')
      if pid:
        os.kill(pid, signal.SIGKILL)
  printed, logged = out.read_text(), err.read_text()
  assert rerun.returncode == 0, logged[-3000:]
  # The rerun finished what the killed driver left unfinished, seed0 once it was free, and collected both once.
  assert 'collected 2' in printed and 'outcomes [1' not in printed, printed + logged[-3000:]
  for seed in (0, 1):
    run_dir = logs / 'fake' / 'planet' / f'seed{seed}'
    lines = [r['episodes'] for r in logger.read_metrics(run_dir)]
    assert sorted(set(lines)) == list(range(1, 7))  # Every episode once (readers keep the last line of a redo).
    assert len(os.listdir(run_dir / 'train_episodes')) == 6
    commands = open(run_dir / 'command.txt').read().splitlines()
    log = open(run_dir / 'sweep.log').read() if os.path.exists(run_dir / 'sweep.log') else ''
    assert 'is in use by' not in log  # No second writer was refused: none was started.
    assert len(commands) >= 2  # Started, then resumed by the rerun.
    collected = results / 'fake' / 'planet' / f'seed{seed}'
    assert [r['episodes'] for r in logger.read_metrics(collected)][-1] == 6


def test_runs_with_work_on_disk_start_first_then_the_matrix_order():
  runs = matrix.runs('fig12', episodes=2)
  states = {run: 'not started' for run in runs}
  states.update({runs[0]: 'done', runs[1]: 'running', runs[2]: 'failed', runs[20]: 'partial'})
  assert launcher.to_start(runs, states) == [runs[20], runs[2]] + runs[3:20] + runs[21:]
