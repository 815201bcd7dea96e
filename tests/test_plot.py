"""Table 1 and the figures (planet.figures, scripts/plot.py) on synthetic results: Table 1 numbers, percentile
bands, every figure written."""
import csv
import json
import os

import numpy as np

from planet import analysis
from planet import figures
from planet import rundir

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = os.path.join(ROOT, 'results', 'reference', 'table1.csv')


def _write_run(root, task, variant, seed, points):
  path = os.path.join(root, task, variant, f'seed{seed}')
  os.makedirs(path)
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
  assert ours[header.index('cartpole')] == '700'  # mean of 400, 600, 800, 1000 at the last test point
  assert ours[header.index('cheetah')] == '70'
  assert ours[header.index('reacher')] == ''  # missing, not zero
  published = {row[0]: row for row in rows[2:]}
  assert published['PlaNet'][header.index('cartpole')] == '821'
  assert published['CEM + true simulator'][header.index('walker')] == '994'
  markdown = open(out / 'table1.md').read()
  assert 'cartpole: 2 seed(s), 4 trajectories at episodes [20]' in markdown and 'reacher: no run' in markdown
  # Scoring at an earlier episode uses the test point at or before it.
  figures.regenerate(str(results), str(out), REFERENCE, episode=15)
  rows = list(csv.reader(open(out / 'table1.csv')))
  assert rows[1][header.index('cartpole')] == '150'
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
  target = rundir.collect_run(str(logdir), str(tmp_path / 'results'))
  assert target.endswith(os.path.join('cheetah', 'ssm', 'seed3'))
  assert sorted(os.listdir(target)) == ['metrics.jsonl', 'operative_config.gin']
