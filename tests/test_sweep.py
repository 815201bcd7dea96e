"""scripts/sweep.py: the paper's run matrix agrees with the figures, status is read from run directories, and the
Ray launcher runs, retries a crashed run that then continues its counters, and starts nothing the second time;
SIGTERM to the driver stops it and its runs cleanly."""
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
from planet import cli
from planet import figures
from planet import logger
from planet import rundir
from planet import sweep
from planet import tasks as tasks_lib


def test_matrices_cover_every_figure_with_the_directories_train_py_uses(tmp_path):
  train_variants = {v for variants, kind in sweep.MATRICES.values() if kind == 'train' for v in variants}
  for _, variants in figures.FIGURES.values():
    assert {name for name, _ in variants} <= train_variants
  runs = sweep.runs('all', logs=str(tmp_path), episodes=10)
  # 10 single-task variants x 6 tasks x 5 seeds + 5 multi-task runs; 10 true-simulator episodes for each task at
  # the paper's setting and for cheetah at the 16 other settings of Fig. 12's grid. The CPU matrix is not the paper's.
  assert len(sweep.cem_sweep_settings()) == 17
  assert 'quick' not in sweep.MATRICES['all'][0]
  assert len(runs) == len(train_variants - {'multitask', 'quick'}) * 6 * 5 + 5 + 10 * (6 + 16)
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


def test_cpu_matrix_runs_quick_on_every_task_and_states_its_cpu_hours(tmp_path):
  runs = sweep.runs('cpu', seeds=[0, 2], logs=str(tmp_path))
  assert sorted({run.task for run in runs}) == sorted(tasks_lib.names()) and len(runs) == 12
  assert all(run.path == os.path.join(str(tmp_path), run.task, 'quick', f'seed{run.seed}') for run in runs)
  assert runs[0].name == 'cartpole/quick/seed0'
  # Expected CPU hours from a made-up machine's records: episode = C x train step x (B L / 2500) + steps x (plan call
  # x (J I H / 120000) + env step); quick cartpole: 50 x 2 x 800/2500 + 125 x (1 x 18000/120000 + 0.01) = 52 s,
  # over its 145 planned episodes.
  machines = {'CPU Made-up x2 cores': {'train_step': {'value': 2.0}, 'plan_call': {'value': 1.0},
                                      'env_step_cartpole': {'value': 0.01}}}
  line = sweep.cpu_hours([runs[0]], machines)
  assert 'CPU Made-up x2 cores' in line and f'cartpole {52.0 * 145 / 3600:.1f} h' in line
  assert 'GPU time' not in sweep.plan_summary(runs, 1)  # Reduced-compute runs: CPU hours only.


def _fake_run_dir(path, episodes, total=None, code=None, reason=''):
  os.makedirs(os.path.join(path, 'train_episodes'))
  for i in range(episodes):
    open(os.path.join(path, 'train_episodes', f'{i:06d}-11.npz'), 'w').close()
  if code is not None:
    rundir.write_exit(path, code, reason, episodes, total)


def test_collect_keeps_the_run_directory_name_with_every_overlay(tmp_path):
  selected = sweep.runs('fig4', ['cartpole'], ['planet', 'gru'], [0], logs=str(tmp_path / 'logs'),
                        extra_gin_files=['gin/debug.gin'])
  assert [run.name for run in selected] == ['cartpole/debug/seed0', 'cartpole/gru-debug/seed0']
  for run in selected:  # Finished runs, as train.py leaves them.
    _fake_run_dir(run.path, 3, total=3, code=cli.EXIT_OK)
    open(os.path.join(run.path, 'metrics.jsonl'), 'w').write('{"episodes": 3}\n')
  copied = sweep.collect(selected, str(tmp_path / 'results'))
  assert [os.path.relpath(path, tmp_path / 'results') for path in copied] == [
      os.path.join('cartpole', 'debug', 'seed0'), os.path.join('cartpole', 'gru-debug', 'seed0')]
  assert sweep.status_table(selected, str(tmp_path / 'results')).startswith('cartpole/debug/seed0 ')


def test_collection_on_a_full_disk_is_one_line_and_the_same_command_collects(tmp_path, monkeypatch, capsys):
  sys.path.insert(0, os.path.join(ROOT, 'scripts'))
  try:
    import sweep as sweep_script  # pylint: disable=import-outside-toplevel
  finally:
    sys.path.pop(0)
  args = ['fig4', '--tasks', 'cartpole', '--variants', 'planet,gru', '--seeds', '0', '--gin_file=gin/debug.gin',
          '--logs', str(tmp_path / 'logs'), '--results', str(tmp_path / 'results')]
  for run in sweep.runs('fig4', ['cartpole'], ['planet', 'gru'], [0], logs=str(tmp_path / 'logs'),
                        extra_gin_files=['gin/debug.gin']):
    _fake_run_dir(run.path, 3, total=3, code=cli.EXIT_OK)  # Finished: nothing to start, only to collect.
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
  assert table.splitlines()[-2] == '1 done, 1 running, 1 partial, 1 failed, 2 not started (6 runs)'
  # Episodes on disk of planned (gin/base.gin's 1000 per run): 1000 + 40 + 12 + 3 of 6000.
  assert sweep.progress(runs) == {'train': (1055, 6000)}
  assert table.splitlines()[-1] == '1,055 of 6,000 training episodes (17.6%)'
  assert sweep.progress_line({'train': (1055, 6000)}, {'train': (1000, 6000)}, 3600).endswith(
      '; about 89.9 h left at the pace since the sweep started')  # 55 episodes an hour, 4945 to go.
  assert sweep.retriable(cli.EXIT_CRASH) and sweep.retriable(-signal.SIGKILL)
  assert not any(sweep.retriable(code) for code in (cli.EXIT_OK, cli.EXIT_BAD_INPUT, cli.EXIT_DIVERGED,
                                                   cli.EXIT_BUSY, cli.EXIT_INTERRUPTED, -signal.SIGTERM))


def test_planned_episodes_are_read_from_the_gin_files(tmp_path):
  # As scripts/train.py counts them: train.total_episodes per task (overlays win), times the tasks of a multitask run.
  quick, = sweep.runs('table1', ['cartpole'], seeds=[0], extra_gin_files=['gin/quick.gin'])
  multitask, = sweep.runs('fig6', variants=['multitask'], seeds=[0])
  assert sweep.planned_episodes(quick.gin_files) == 150
  assert sweep.planned_episodes(multitask.gin_files) == 1000 * len(tasks_lib.names())
  macro = tmp_path / 'macro.gin'  # What only gin can evaluate is not guessed.
  macro.write_text('EPISODES = 10\ntrain.total_episodes = %EPISODES\n')
  assert sweep.planned_episodes(('gin/cartpole.gin', str(macro))) is None


def test_dry_run_summary_states_the_measured_sharing():
  selected = sweep.runs('table1', ['cheetah'], seeds=[0, 1])
  alone, shared = sweep.plan_summary(selected, 1), sweep.plan_summary(selected, 0.25)
  assert '20-40 GPU-hours for these 2 runs one per GPU' in alone and 'share' not in alone
  assert '20-40 GPU-hours' in shared and '4 runs share a GPU' in shared and '1.42x the episodes per hour' in shared
  assert '--measure_sharing' in shared  # Where to measure it.


def test_gpu_runs_without_xla_get_a_warning(tmp_path):
  # Runs given a GPU with XLA off for either compiled function are warned about; gin/gpu.gin turns both on.
  half = tmp_path / 'half.gin'
  half.write_text('Learner.jit_compile = True\n')
  assert sweep.xla_warning([], 0) is None and sweep.xla_warning([str(half)], 0) is None  # No GPU: nothing to say.
  assert sweep.xla_warning(['gin/gpu.gin'], 1) is None and sweep.xla_warning(['gin/gpu.gin'], 0.25) is None
  including = tmp_path / 'my_gpu.gin'  # An overlay that includes gin/gpu.gin turns XLA on as well.
  including.write_text("include 'gin/gpu.gin'\ntrain.prefetch_device = '/GPU:0'\n")
  assert sweep.xla_warning([str(including)], 1) is None
  for gin_files in ([], ['gin/quick.gin'], [str(half)]):
    warning = sweep.xla_warning(gin_files, 0.25)
    assert warning.startswith('warning: ') and '--gin_file=gin/gpu.gin' in warning, gin_files


def test_dry_run_checks_every_configuration(tmp_path):
  good = sweep.runs('fig9', ['cheetah'], seeds=[0])
  broken = tmp_path / 'broken.gin'
  broken.write_text('RSSM.no_such_thing = 1\n')
  bad = sweep.runs('table1', ['cheetah'], seeds=[0], extra_gin_files=[str(broken)])
  (name, error), = sweep.check_configurations(good + bad)  # One subprocess parses them all; only one is bad.
  assert name == bad[0].name and "'no_such_thing'" in error


def test_sharing_summary_against_a_hand_computation():
  one = dict(wall=6.0, update=4.0, collect=2.0, episodes=10)
  two = [dict(wall=8.0, update=5.0, collect=3.0, episodes=10), dict(wall=10.0, update=6.0, collect=4.0, episodes=12)]
  rows = sweep.sharing_summary({4: [one, None, one, one], 1: [one], 2: two}, episodes=1000)
  assert [row['runs'] for row in rows] == [1, 2, 4]  # Fewest runs first: one run alone is the baseline.
  # One run: 3600 / 6 = 600 episodes an hour; 1000 episodes take 6000 s = 1.67 h, all of one GPU.
  assert rows[0] == dict(runs=1, episode_s=6.0, episodes_per_hour=600.0, timed_episodes=10, update_s=4.0,
                         collect_s=2.0, hours_per_run=1.67, device_hours_per_run=1.67, vs_one_run=1.0)
  # Two at once: 450 + 360 = 810 an hour, 1.35x one run; the median run (9 s) takes 2.5 h, 1.25 GPU-hours each.
  assert rows[1] == dict(runs=2, episode_s=9.0, episodes_per_hour=810.0, timed_episodes=22, update_s=5.5,
                         collect_s=3.5, hours_per_run=2.5, device_hours_per_run=1.25, vs_one_run=1.35)
  assert rows[2] == dict(runs=4, error='1 of 4 runs timed no episode within the time limit: raise --seconds')
  record = dict(configuration='cartpole/planet/seed0', device='NVIDIA H100', cpus_per_run=4, episodes=1000,
                levels=rows)
  table = sweep.sharing_table(record)
  assert 'GPU-hours per run' in table and '1.35x' in table and 'raise --seconds' in table
  assert table.splitlines()[-1].startswith('most work per GPU: 2 run(s) at once (--gpus 0.5), 1.35x')


@pytest.mark.parametrize('args, message', [
    (['table1', '--measure_sharing', '2,4'], 'ascending order starting with 1'),
    (['table1', '--measure_sharing', '1,x'], 'separated by commas'),
    (['table1', '--measure_sharing', '1,2', '--seconds', '0'], 'positive time limit'),
    (['table1', '--measure_sharing', '1,2', '--timed_episodes', '0'], 'at least one timed episode'),
    (['truesim', '--measure_sharing', '1,2'], 'has none')])
def test_measure_sharing_refuses_bad_input_with_one_line(args, message, capsys, tmp_path):
  sys.path.insert(0, os.path.join(ROOT, 'scripts'))
  try:
    import sweep as sweep_script  # pylint: disable=import-outside-toplevel
  finally:
    sys.path.pop(0)
  with pytest.raises(SystemExit) as stop:
    sweep_script.main([*args, '--tasks', 'cartpole', '--logs', str(tmp_path)])
  err = capsys.readouterr().err.strip().splitlines()
  assert stop.value.code == cli.EXIT_BAD_INPUT and message in err[-1] and err[-1].startswith('error: ')
  assert not os.listdir(tmp_path)  # Nothing started.


@pytest.mark.slow
def test_measure_sharing_times_one_then_two_runs_at_once_and_leaves_nothing_behind(tmp_path, monkeypatch):
  overlay = tmp_path / 'fake.gin'
  overlay.write_text("train.task = 'fake'\nmake_env.max_env_steps = 20\ntrain.total_episodes = 1000\n"
                     'train.test_every = 1000\ntrain.video_every = 1000\n')
  files = (os.path.join(ROOT, 'gin', 'base.gin'), os.path.join(ROOT, 'gin', 'debug.gin'), str(overlay))
  run = sweep.Run('train', 'fake', 'planet', 0, str(tmp_path / 'unused' / 'fake' / 'planet' / 'seed0'), files)
  work = tmp_path / 'work'
  monkeypatch.setattr(sweep.tempfile, 'mkdtemp', lambda prefix: str(work.mkdir() or work))
  monkeypatch.delenv('TF_XLA_FLAGS', raising=False)
  started, popen = [], subprocess.Popen
  monkeypatch.setattr(sweep.subprocess, 'Popen', lambda *args, **kwargs: started.extend(
      [kwargs['env']['TF_XLA_FLAGS']] if 'env' in kwargs else []) or popen(*args, **kwargs))
  tic = time.time()
  record = sweep.measure_sharing(run, [1, 2], 240, cpus=1, progress=False, timed_episodes=3)
  assert time.time() - tic < 200  # Each level ended once its runs had 3 timed episodes, not at the time limit.
  one, two = record['levels']
  assert (one['runs'], two['runs']) == (1, 2) and one['timed_episodes'] >= 3 and two['timed_episodes'] >= 6
  assert 0 < one['update_s'] < one['episode_s'] and one['vs_one_run'] == 1.0
  assert two['vs_one_run'] == pytest.approx(two['episodes_per_hour'] / one['episodes_per_hour'], rel=1e-2)
  assert record['device'].startswith('CPU') and record['configuration'] == 'fake/planet/seed0'
  assert not work.exists() and not (tmp_path / 'unused').exists()  # Its run directories were temporary.
  assert not _pid_of(str(work))  # Every run it started has ended.
  # One persistent XLA cache: the single run may write it, the two after it only read it.
  cache = f"--tf_xla_persistent_cache_directory={work / 'xla_cache'}"
  assert started == [cache, f'{cache} --tf_xla_persistent_cache_read_only=true', f'{cache} '
                     '--tf_xla_persistent_cache_read_only=true']


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
def test_ray_launcher_retries_a_crash_and_resumes(tmp_path, caplog, monkeypatch):
  ray = pytest.importorskip('ray')
  overlay = tmp_path / 'fake.gin'
  overlay.write_text("train.task = 'fake'\nmake_env.max_env_steps = 20\ntrain.total_episodes = 4\n")
  files = (os.path.join(ROOT, 'gin', 'base.gin'), os.path.join(ROOT, 'gin', 'debug.gin'), str(overlay))
  runs = [sweep.Run('train', 'fake', 'planet', seed, str(tmp_path / 'logs' / 'fake' / 'planet' / f'seed{seed}'), files)
          for seed in (0, 1)]
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
    with caplog.at_level(logging.INFO):  # Without a bar, the progress is logged (here at every recount).
      monkeypatch.setattr(sweep, 'PROGRESS_LOG_SECONDS', 0)
      outcomes = sweep.launch(runs, cpus=1, retries=2, results=str(tmp_path / 'results'), bar=False,
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
    assert all(sweep.status(run)[0] == 'done' for run in runs)
    assert sweep.launch(runs, cpus=1) == {}  # A second sweep call starts nothing.
    copied = sweep.collect(runs, str(tmp_path / 'results'))
    assert {'command.txt', 'config.gin', 'metrics.jsonl', 'run.json'} <= set(os.listdir(copied[0]))
    assert copied[0] == os.path.join(str(tmp_path / 'results'), 'fake', 'planet', 'seed0')
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


_DRIVER = '''
import sys
from planet import sweep
logs, results, files = sys.argv[1], sys.argv[2], tuple(sys.argv[3:])
runs = [sweep.Run('train', 'fake', 'planet', seed, f'{logs}/fake/planet/seed{seed}', files) for seed in (0, 1)]
outcomes = sweep.launch(runs, cpus=1, retries=0, results=results, bar=False)
print('outcomes', sorted(code for code, _ in outcomes.values()))
print('collected', len(sweep.collect(runs, results)))
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
      pid = _pid_of(f'--logdir={logs / "fake" / "planet" / f"seed{seed}"}')
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
