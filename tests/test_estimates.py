"""planet.experiments.estimates: the --dry_run summary states CPU hours from the committed records and the
measured GPU sharing."""
import os

from conftest import ROOT
from planet import config as config_lib
from planet import rundir
from planet import tasks as tasks_lib
from planet.experiments import estimates
from planet.experiments import matrix
from planet.experiments import state


def test_cpu_matrix_runs_quick_on_every_task_and_states_its_cpu_hours(tmp_path):
  runs = matrix.runs('cpu', seeds=[0, 2], logs=str(tmp_path))
  assert sorted({run.task for run in runs}) == sorted(tasks_lib.names()) and len(runs) == 12
  assert all(run.path == os.path.join(str(tmp_path), run.task, 'quick', f'seed{run.seed}') for run in runs)
  assert runs[0].name == 'cartpole/quick/seed0'
  # Expected CPU hours from a made-up machine's records: episode = C x train step x (B L / 2500) + steps x (plan call
  # x (J I H / 120000) + env step); quick cartpole: 50 x 2 x 800/2500 + 125 x (1 x 18000/120000 + 0.01) = 52 s,
  # over its 145 planned episodes.
  machines = {'CPU Made-up x2 cores': {'train_step': {'value': 2.0}, 'plan_call': {'value': 1.0},
                                      'env_step_cartpole': {'value': 0.01}}}
  line = estimates.cpu_hours([runs[0]], machines)
  assert 'CPU Made-up x2 cores' in line and f'cartpole {52.0 * 145 / 3600:.1f} h' in line
  summary = estimates.plan_summary(runs, 1)
  assert 'GPU time' not in summary  # Reduced-compute runs: CPU hours only.
  # RAM at gin/quick.gin's 150 episodes: 2.8 GB + 150 x 126 steps x 64 x 64 x 3 bytes for cartpole (0.23 GB); finger
  # and walker, action repeat 2, 501 steps an episode (0.92 GB).
  assert 'per training run at its 150 episodes: RAM 3.0-3.7 GB' in summary
  assert 'at its 1000 episodes: RAM 4.3-' in estimates.plan_summary(matrix.runs('table1', seeds=[0]), 1)
  # scripts/train.py's hint reads the same sizes from the parsed configuration: the same 52 s an episode.
  config_lib.parse([os.path.join(ROOT, 'gin', 'cartpole.gin'), os.path.join(ROOT, 'gin', 'quick.gin')], [])
  assert abs(estimates.cpu_episode_minutes(machines['CPU Made-up x2 cores']) - 52.0 / 60) < 1e-9


def test_dry_run_summary_states_the_measured_sharing():
  selected = matrix.runs('table1', ['cheetah'], seeds=[0, 1])
  alone, shared = estimates.plan_summary(selected, 1), estimates.plan_summary(selected, 0.25)
  assert '20-40 GPU-hours for these 2 runs one per GPU' in alone and 'share' not in alone
  assert '20-40 GPU-hours' in shared and '4 runs share a GPU' in shared and '1.42x the episodes per hour' in shared
  assert '--measure_sharing' in shared  # Where to measure it.


def test_true_sim_time_left_scales_the_fastest_recorded_pace_by_each_settings_rollouts(tmp_path):
  # Recorded: the paper's setting (H12 I10 J1000: 120,000 imagined steps an agent step) in 360 s, H=2 (20,000) in
  # 120 s; the fastest pace is 0.003 s per unit. Left of 2 episodes each of H=2, the paper's and I=15: H=2's and the
  # paper's episode 1 and both of I=15 (180,000 each): 500,000 units, 1500 s, 0.4 h.
  for setting, seconds in (((12, 10, 1000, 100), 360.0), ((2, 10, 1000, 100), 120.0)):
    rundir.append_jsonl(str(tmp_path / 'true_sim' / 'cheetah.jsonl'), {
        'settings': list(setting), 'episode': 0, 'std_estimator': 'std', 'seconds': seconds, 'threads': 2})
  runs = [run for run in matrix.runs('fig12', ['cheetah'], episodes=2, results=str(tmp_path))
          if run.setting[:3] in ((2, 10, 1000), (12, 10, 1000), (12, 15, 1000)) and run.setting[3] == 100]
  assert len(runs) == 6
  done = {run for run in runs if state.status(run, str(tmp_path))[0] == 'done'}
  line = estimates.true_sim_minutes(runs, done, str(tmp_path))
  assert 'cheetah: 4 to play, at least 0.4 h at the fastest recorded pace (360 s for H12 I10 J1000 K100, 2 threads' \
      in line and 'median of the 2 recorded 4 min (2 threads)' in line
