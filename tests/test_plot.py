"""Table 1 and the figures (planet.report.figures, scripts/plot.py) on synthetic results: Table 1 numbers, percentile
bands, every figure written."""
import csv
import json
import os

import numpy as np

from planet import gin_text
from planet import rundir
from planet.report import analysis
from planet.report import figures
from planet.report import table1

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, 'results', 'reference', 'table1.csv')


def _write_run(root, task, variant, seed, points, config=True):
  """A made-up collected run; `config`: its config.gin holds what its name means (True), nothing (None), or the
  configuration of these gin files instead (a list)."""
  path = os.path.join(root, task, variant, f'seed{seed}')
  os.makedirs(path)
  if config is not None:
    files = analysis.config_files(task, variant)[0] if config is True else config
    with open(os.path.join(path, 'config.gin'), 'w') as f:
      f.writelines(f'{key} = {value}\n' for key, value in gin_text.files_bindings(files).items())
  with open(os.path.join(path, 'metrics.jsonl'), 'w') as f:
    for episode in range(1, max(points) + 1):
      record = {'episodes': episode, 'train_return': 1.0}
      if episode in points:
        record.update(test_returns=points[episode], test_return=float(np.mean(points[episode])))
      f.write(json.dumps(record) + '\n')


def test_percentile_band_on_hand_example(tmp_path):
  _write_run(tmp_path, 'cartpole', 'planet', 0, {10: [0, 10, 20, 30, 40]})
  _write_run(tmp_path, 'cartpole', 'planet', 1, {10: [50, 60, 70, 80, 90, 100], 20: [5.0]})
  runs = analysis.find_runs(str(tmp_path))
  episodes, median, low, high, counts = analysis.pooled_curve(runs)
  assert episodes == [10, 20] and counts == [11, 1]
  pooled = np.arange(0, 101, 10)  # 11 trajectories pooled over both seeds.
  assert median[0] == 50
  # numpy's linear interpolation: the 5th percentile sits at rank 0.5 -> 5, the 95th at rank 9.5 -> 95.
  assert low[0] == np.percentile(pooled, 5) == 5.0 and high[0] == np.percentile(pooled, 95) == 95.0
  assert median[1] == low[1] == high[1] == 5.0


def test_table1_and_figures_from_synthetic_runs(tmp_path):
  results = tmp_path / 'results'
  _write_run(results, 'cartpole', 'planet', 0, {10: [100.0], 20: [400.0, 600.0]})
  _write_run(results, 'cartpole', 'planet', 1, {10: [200.0], 20: [800.0, 1000.0]})
  _write_run(results, 'cheetah', 'planet', 0, {10: [50.0], 20: [70.0]})
  _write_run(results, 'cheetah', 'ssm', 0, {10: [30.0]})
  out = tmp_path / 'figures'
  figures.regenerate(str(results), str(out), REFERENCE)
  rows = list(csv.reader(open(out / 'table1.csv')))
  header, ours = rows[0], rows[1]
  assert ours[header.index('cheetah')] == '70 (ep 20; 1 seed, n=1)'
  assert ours[header.index('reacher')] == ''  # missing, not zero
  published = {row[0]: row for row in rows[2:]}
  assert published['PlaNet'][header.index('cartpole')] == '821'
  assert published['CEM + true simulator'][header.index('walker')] == '994'
  assert ours[0] == 'PlaNet, paper settings (this code)'
  assert ours[header.index('cartpole')] == '700 (ep 20; 2 seeds, n=4)'  # mean of 400, 600, 800, 1000 at episode 20
  markdown = open(out / 'table1.md').read()
  assert 'not drawn: cheetah/ssm/seed0: `ssm` is not a Table 1 row' in markdown
  # Scoring at an earlier episode uses the test point at or before it.
  figures.regenerate(str(results), str(out), REFERENCE, episode=15)
  rows = list(csv.reader(open(out / 'table1.csv')))
  assert rows[1][header.index('cartpole')] == '150 (ep 10; 2 seeds, n=2)'
  assert os.path.getsize(results / 'cartpole' / 'planet' / 'seed0' / 'curve.png') > 1000
  for name in list(figures.FIGURES) + ['all_runs']:
    for ext in ('png', 'pdf'):
      assert os.path.getsize(out / f'{name}.{ext}') > 1000


def test_collect_copies_small_files(tmp_path):
  logdir = tmp_path / 'logs' / 'cheetah' / 'ssm' / 'seed3'
  os.makedirs(logdir / 'checkpoints')
  (logdir / 'metrics.jsonl').write_text('{"episodes": 1}\n')
  (logdir / 'operative_config.gin').write_text('x = 1\n')
  (logdir / 'checkpoints' / 'ckpt-1.index').write_text('big')
  (logdir / 'command.txt').write_text('2026-12-06 10:00:00 on host (CPU Made-up x2 cores), commit abc1234: python '
                                      'scripts/train.py --gin_file=gin/cheetah.gin --gin_file=gin/ablations/ssm.gin\n')
  target = rundir.collect_run(str(logdir), str(tmp_path / 'results'))
  assert target.endswith(os.path.join('cheetah', 'ssm', 'seed3'))
  assert sorted(os.listdir(target)) == ['command.txt', 'metrics.jsonl', 'operative_config.gin', 'run.json']
  record = json.load(open(os.path.join(target, 'run.json')))
  assert (record['config'], record['machine'], record['commit']) == ('ssm', 'CPU Made-up x2 cores', 'abc1234')
  assert record['settings'] == 'unknown'  # No config.gin in the run directory.


def test_only_runs_with_the_settings_their_name_means_are_drawn(tmp_path):
  results = tmp_path / 'results'
  _write_run(results, 'cartpole', 'quick', 0, {10: [300.0]})  # reduced compute: its own row
  # A debug-size run placed by hand where the paper's run belongs, and a run with no configuration recorded.
  _write_run(results, 'cheetah', 'planet', 0, {10: [50.0]}, config=['gin/cheetah.gin', 'gin/debug.gin'])
  _write_run(results, 'finger', 'planet', 0, {10: [60.0]}, config=None)
  runs = analysis.find_runs(str(results))
  rows = table1.write(runs, {}, None, str(tmp_path), str(results))
  header = ['method', 'modality', 'episodes'] + list(figures.tasks_lib.names())
  paper, quick = rows[0], rows[1]
  assert paper[header.index('cheetah')] == paper[header.index('finger')] == paper[header.index('cartpole')] == ''
  assert quick[0].startswith('PlaNet, reduced compute') and quick[header.index('cartpole')].startswith('300 ')
  markdown = open(tmp_path / 'table1.md').read()
  line = next(line for line in markdown.splitlines() if line.startswith('- not drawn: cheetah/planet/seed0: '))
  assert ' where planet has ' in line and 'more' in line  # debug.gin changes many bindings; the first are named
  assert 'not drawn: finger/planet/seed0: no config.gin: settings unknown' in markdown
  # Nor does a figure's PlaNet curve take them.
  assert ('cheetah', 'planet') in figures.plot_comparison('fig', 't', [('planet', 'PlaNet')], runs, {}, str(tmp_path))
