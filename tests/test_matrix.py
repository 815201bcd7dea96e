"""planet.experiments.matrix: the paper's run matrix agrees with the figures and with the run directories
scripts/train.py derives; GPU runs without XLA are warned about; every configuration is parsed before a sweep."""
import os

import pytest

from planet import config as config_lib
from planet import gin_text
from planet.experiments import matrix
from planet.report import figures


def test_matrices_cover_every_figure_with_the_directories_train_py_uses(tmp_path):
  train_variants = {v for variants, kind in matrix.MATRICES.values() if kind == 'train' for v in variants}
  for _, variants in figures.FIGURES.values():
    assert {name for name, _ in variants} <= train_variants
  runs = matrix.runs('all', logs=str(tmp_path), episodes=10)
  # 10 single-task variants x 6 tasks x 5 seeds + 5 multi-task runs; 10 true-simulator episodes for each task at
  # the paper's setting and for cheetah at the 16 other settings of Fig. 12's grid. The CPU matrix is not the paper's.
  assert len(matrix.cem_sweep_settings()) == 17
  assert 'quick' not in matrix.MATRICES['all'][0]
  assert len(runs) == len(train_variants - {'multitask', 'quick'}) * 6 * 5 + 5 + 10 * (6 + 16)
  runs = [run for run in runs if run.kind == 'train']
  assert len({run.path for run in runs}) == len(runs)
  # Each run directory is the one scripts/train.py picks for the same command (config.default_logdir after parsing).
  for run in [r for r in runs if r.seed == 1 and r.task in ('cheetah', 'multitask')]:
    config_lib.parse(list(run.gin_files), [f'train.seed = {run.seed}'])
    default = config_lib.default_logdir(list(run.gin_files))
    assert os.path.join(str(tmp_path), os.path.relpath(default, 'logs')) == run.path
    parts = run.path.split(os.sep)
    assert (parts[-3], parts[-2]) == ((run.task, run.variant) if run.task != 'multitask' else ('multitask', 'planet'))
  # Execution-only overlays keep the names; experiment overlays change them.
  assert matrix.runs('table1', ['cheetah'], seeds=[0], extra_gin_files=['gin/gpu.gin'])[0].path == os.path.abspath(
      os.path.join('logs', 'cheetah', 'planet', 'seed0'))
  assert matrix.runs('table1', ['cheetah'], seeds=[0], extra_gin_files=['gin/quick.gin'])[0].path == os.path.abspath(
      os.path.join('logs', 'cheetah', 'quick', 'seed0'))
  assert len(matrix.runs('fig12', episodes=2)) == 2 * 17
  with pytest.raises(ValueError, match='unknown matrix'):
    matrix.runs('fig7')


def test_gpu_runs_without_xla_get_a_warning(tmp_path):
  # Runs given a GPU with XLA off for either compiled function are warned about; gin/gpu.gin turns both on.
  half = tmp_path / 'half.gin'
  half.write_text('Learner.jit_compile = True\n')
  assert matrix.xla_warning([], 0) is None and matrix.xla_warning([str(half)], 0) is None  # No GPU: nothing to say.
  assert matrix.xla_warning(['gin/gpu.gin'], 1) is None and matrix.xla_warning(['gin/gpu.gin'], 0.25) is None
  including = tmp_path / 'my_gpu.gin'  # An overlay that includes gin/gpu.gin turns XLA on as well.
  including.write_text("include 'gin/gpu.gin'\ntrain.prefetch_device = '/GPU:0'\n")
  assert matrix.xla_warning([str(including)], 1) is None
  for gin_files in ([], ['gin/quick.gin'], [str(half)]):
    warning = matrix.xla_warning(gin_files, 0.25)
    assert warning.startswith('warning: ') and '--gin_file=gin/gpu.gin' in warning, gin_files


def test_dry_run_checks_every_configuration(tmp_path):
  good = matrix.runs('fig9', ['cheetah'], seeds=[0])
  broken = tmp_path / 'broken.gin'
  broken.write_text('RSSM.no_such_thing = 1\n')
  bad = matrix.runs('table1', ['cheetah'], seeds=[0], extra_gin_files=[str(broken)])
  (name, error), = matrix.run_configuration_errors(good + bad)  # One subprocess parses them all; only one is bad.
  assert name == bad[0].name and "'no_such_thing'" in error


def test_paths_are_read_from_the_callers_directory_though_runs_start_in_the_repository_root(tmp_path, monkeypatch):
  """`--logs L` and a gin file beside the user must name the same places for the runs, which start in the root."""
  monkeypatch.chdir(tmp_path)
  (tmp_path / 'mine.gin').write_text('train.batch_size = 4\n')
  run, = matrix.runs('fig4', ['cartpole'], ['planet'], [0], logs='L', extra_gin_files=['mine.gin', 'gin/debug.gin'])
  assert run.path == str(tmp_path / 'L' / 'cartpole' / 'mine-debug' / 'seed0')
  truesim = matrix.runs('truesim', ['cartpole'], episodes=1, results='R')[0]
  assert truesim.kind == 'truesim' and truesim.path.startswith(str(tmp_path / 'R' / 'true_sim') + os.sep)
  assert run.gin_files == ('gin/cartpole.gin', str(tmp_path / 'mine.gin'), 'gin/debug.gin')
  for path in run.gin_files:
    assert os.path.exists(os.path.join(gin_text.REPO_ROOT, path))


def test_seeds_are_ranges_and_lists():
  assert matrix.parse_seeds('0-4') == [0, 1, 2, 3, 4] and matrix.parse_seeds('0,2') == [0, 2]
  assert matrix.parse_seeds('1,3-4') == [1, 3, 4] and matrix.parse_seeds(None) is None
  with pytest.raises(ValueError):
    matrix.parse_seeds('a-b')


def test_reduced_compute_is_read_from_the_run_name_train_py_gives():
  # The CPU matrix's runs and the overlays added after gin/quick.gin are reduced compute; the paper's runs are not.
  assert all(matrix.reduced_compute(run.config) for run in matrix.runs('cpu', seeds=[0]))
  assert matrix.reduced_compute('quick-mixed_precision')
  assert not any(matrix.reduced_compute(run.config) for run in matrix.runs('all') if run.kind == 'train')
  assert not matrix.reduced_compute('quickest') and not matrix.reduced_compute('planet')


def test_true_simulator_episodes_come_episode_by_episode_cheapest_setting_first():
  runs = matrix.runs('fig12', episodes=3)
  assert [run.seed for run in runs] == [0] * 17 + [1] * 17 + [2] * 17
  costs = [run.setting[0] * run.setting[1] * run.setting[2] for run in runs[:17]]
  assert costs == sorted(costs) and costs[0] == 12 * 1 * 1000 and costs[-1] == 12 * 10 * 2000
  assert {run.setting for run in runs[:17]} == {tuple(s) for s in matrix.cem_sweep_settings()}
