"""planet.experiments.sharing: the runs-per-GPU summary against a hand computation, bad input refused in one
line, and a real one-then-two-runs measurement that leaves nothing behind."""
import os
import subprocess
import time

import pytest

from conftest import ROOT
from conftest import pid_of
from conftest import script
from planet import cli
from planet.experiments import matrix
from planet.experiments import processes
from planet.experiments import sharing


def test_sharing_summary_against_a_hand_computation():
  one = dict(wall=6.0, update=4.0, collect=2.0, episodes=10)
  two = [dict(wall=8.0, update=5.0, collect=3.0, episodes=10), dict(wall=10.0, update=6.0, collect=4.0, episodes=12)]
  rows = sharing.sharing_summary({4: [one, None, one, one], 1: [one], 2: two}, episodes=1000)
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
  table = sharing.sharing_table(record)
  assert 'GPU-hours per run' in table and '1.35x' in table and 'raise --seconds' in table
  assert table.splitlines()[-1].startswith('most work per GPU: 2 run(s) at once (--gpus 0.5), 1.35x')


@pytest.mark.parametrize('args, message', [
    (['table1', '--measure_sharing', '2,4'], 'ascending order starting with 1'),
    (['table1', '--measure_sharing', '1,x'], 'separated by commas'),
    (['table1', '--measure_sharing', '1,2', '--seconds', '0'], 'positive time limit'),
    (['table1', '--measure_sharing', '1,2', '--timed_episodes', '0'], 'at least one timed episode'),
    (['truesim', '--measure_sharing', '1,2'], 'has none')])
def test_measure_sharing_refuses_bad_input_with_one_line(args, message, capsys, tmp_path):
  sweep_script = script('sweep')
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
  run = matrix.Run('train', 'fake', 'planet', 0, str(tmp_path / 'unused' / 'fake' / 'planet' / 'seed0'), files)
  work = tmp_path / 'work'
  monkeypatch.setattr(sharing.tempfile, 'mkdtemp', lambda prefix: str(work.mkdir() or work))
  monkeypatch.delenv('TF_XLA_FLAGS', raising=False)
  started, popen = [], subprocess.Popen
  monkeypatch.setattr(processes.subprocess, 'Popen', lambda *args, **kwargs: started.extend(
      [kwargs['env']['TF_XLA_FLAGS']] if 'env' in kwargs else []) or popen(*args, **kwargs))
  tic = time.time()
  record = sharing.measure_sharing(run, [1, 2], 240, cpus=1, progress=False, timed_episodes=3)
  assert time.time() - tic < 200  # Each level ended once its runs had 3 timed episodes, not at the time limit.
  one, two = record['levels']
  assert (one['runs'], two['runs']) == (1, 2) and one['timed_episodes'] >= 3 and two['timed_episodes'] >= 6
  assert 0 < one['update_s'] < one['episode_s'] and one['vs_one_run'] == 1.0
  assert two['vs_one_run'] == pytest.approx(two['episodes_per_hour'] / one['episodes_per_hour'], rel=1e-2)
  assert record['device'].startswith('CPU') and record['configuration'] == 'fake/planet/seed0'
  assert not work.exists() and not (tmp_path / 'unused').exists()  # Its run directories were temporary.
  assert not pid_of(str(work))  # Every run it started has ended.
  # One persistent XLA cache: the single run may write it, the two after it only read it.
  cache = f"--tf_xla_persistent_cache_directory={work / 'xla_cache'}"
  assert started == [cache, f'{cache} --tf_xla_persistent_cache_read_only=true', f'{cache} '
                     '--tf_xla_persistent_cache_read_only=true']
