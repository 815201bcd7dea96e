"""Table 1 and the figures (planet/report/table1.py, figures.py, run_figures.py, scripts/plot.py) on synthetic
results: Table 1 numbers, every figure written, only runs whose settings match their name drawn."""
import csv
import os

from conftest import ROOT
from conftest import write_result_run
from planet.report import analysis
from planet.report import figures
from planet.report import run_figures
from planet.report import table1

REFERENCE = os.path.join(ROOT, 'results', 'reference', 'table1.csv')


def test_table1_and_figures_from_synthetic_runs(tmp_path):
  results = tmp_path / 'results'
  write_result_run(results, 'cartpole', 'planet', 0, {10: [100.0], 20: [400.0, 600.0]})
  write_result_run(results, 'cartpole', 'planet', 1, {10: [200.0], 20: [800.0, 1000.0]})
  write_result_run(results, 'cheetah', 'planet', 0, {10: [50.0], 20: [70.0]})
  write_result_run(results, 'cheetah', 'ssm', 0, {10: [30.0]})
  out = tmp_path / 'figures'
  figures.regenerate(str(results), str(out), REFERENCE)
  rows = list(csv.reader(open(out / 'table1.csv')))
  header, ours = rows[0], rows[1]
  assert ours[header.index('cheetah')] == '60 (ep 10-20; 1 seed, n=2)'  # fewer than five tests: all of them
  assert ours[header.index('reacher')] == ''  # missing, not zero
  published = {row[0]: row for row in rows[2:]}
  assert published['PlaNet'][header.index('cartpole')] == '821'
  assert published['CEM + true simulator'][header.index('walker')] == '994'
  assert ours[0] == 'PlaNet, paper settings (this code)'
  # Each seed's mean first (100, 400, 600 and 200, 800, 1000), then the mean over seeds.
  assert ours[header.index('cartpole')] == '517 (ep 10-20; 2 seeds, n=6)'
  markdown = open(out / 'table1.md').read()
  assert 'not drawn: cheetah/ssm/seed0: `ssm` is not a Table 1 row' in markdown
  # Scoring at an earlier episode uses the test points at or before it.
  figures.regenerate(str(results), str(out), REFERENCE, episode=15)
  rows = list(csv.reader(open(out / 'table1.csv')))
  assert rows[1][header.index('cartpole')] == '150 (ep 10; 2 seeds, n=2)'  # (100 + 200) / 2
  assert os.path.getsize(results / 'cartpole' / 'planet' / 'seed0' / 'curve.png') > 1000
  for name in list(figures.FIGURES) + ['all_runs']:
    for ext in ('png', 'pdf'):
      assert os.path.getsize(out / f'{name}.{ext}') > 1000
  again = tmp_path / 'again'  # The same runs draw the same bytes (no creation date), so git sees no change.
  figures.regenerate(str(results), str(again), REFERENCE, episode=15)
  for name in list(figures.FIGURES) + ['all_runs']:
    assert (again / f'{name}.pdf').read_bytes() == (out / f'{name}.pdf').read_bytes(), name


def test_a_cell_takes_each_seeds_last_tests_holding_five_trajectories():
  single = _Run({e: [float(e)] for e in range(10, 101, 10)})  # one test episode every 10 episodes
  # The last five single-episode tests (60-100), not the last one alone.
  assert analysis.final_score([single]) == (80.0, 1, 5, [(60, 100)])
  assert analysis.final_score([single], episode=75) == (50.0, 1, 5, [(30, 70)])
  # A run's final point of ten trajectories is enough by itself; seeds weigh equally whatever their n.
  final = _Run({140: [0.0], 150: [500.0] * 9 + [510.0]})
  assert analysis.final_score([final]) == (501.0, 1, 10, [(150, 150)])
  assert analysis.final_score([single, final]) == ((80.0 + 501.0) / 2, 2, 15, [(60, 100), (150, 150)])
  assert analysis.final_score([_Run({})]) is None


class _Run:
  """A run as analysis reads it: its metrics records with the test returns at each episode count."""

  def __init__(self, points):
    self.records = [dict(episodes=e, test_returns=returns) for e, returns in sorted(points.items())]


def test_only_runs_with_the_settings_their_name_means_are_drawn(tmp_path):
  results = tmp_path / 'results'
  write_result_run(results, 'cartpole', 'quick', 0, {10: [300.0]})  # reduced compute: its own row
  # A debug-size run placed by hand where the paper's run belongs, and a run with no configuration recorded.
  write_result_run(results, 'cheetah', 'planet', 0, {10: [50.0]}, config=['gin/cheetah.gin', 'gin/debug.gin'])
  write_result_run(results, 'finger', 'planet', 0, {10: [60.0]}, config=None)
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


def test_same_seed_runs_are_drawn_side_by_side_only_when_both_are_there(tmp_path):
  write_result_run(tmp_path, 'cartpole', 'quick', 1, {5: [100.0], 10: [300.0]})
  out = tmp_path / 'figures'
  os.makedirs(out)
  pair = ('pair', 'cartpole', 1, [('quick', 'float32'), ('quick-mixed_precision', 'bfloat16 convs')])
  assert run_figures.plot_same_seed(analysis.find_runs(str(tmp_path)), str(out), *pair) is None  # One of two.
  write_result_run(tmp_path, 'cartpole', 'quick-mixed_precision', 1, {5: [120.0], 10: [280.0]})
  runs = analysis.find_runs(str(tmp_path))
  assert run_figures.plot_same_seed(runs, str(out), *pair) == os.path.join(str(out), 'pair.png')
  assert os.path.getsize(out / 'pair.png') > 0
  assert run_figures.plot_same_seed(runs, str(out), 'other', 'cartpole', 0, pair[3]) is None  # Another seed: none.


def test_the_reduced_compute_figure_draws_each_seed_against_its_random_episodes(tmp_path):
  results = tmp_path / 'results'
  write_result_run(results, 'cartpole', 'quick', 0, {5: [100.0], 10: [300.0, 500.0]})
  write_result_run(results, 'cartpole', 'quick', 1, {5: [120.0], 10: [280.0]})
  write_result_run(results, 'cheetah', 'planet', 0, {10: [50.0]})  # The paper's settings: not in this figure.
  runs = analysis.find_runs(str(results))
  fig, ax = run_figures.plt.subplots()
  cartpole = [r for r in runs if r.variant == 'quick']
  # write_result_run gives every episode a training return of 1.0: the random seed episodes' mean.
  assert run_figures.reduced_compute_panel(ax, 'cartpole', cartpole, {'A3C': {'cartpole': 558.0}}) == 1.0
  tests = [line for line in ax.lines if line.get_marker() == 'o']
  assert [list(line.get_ydata()) for line in tests] == [[100.0, 400.0], [120.0, 280.0]]  # Each point's mean.
  assert sorted(float(line.get_ydata()[0]) for line in ax.lines if line.get_linestyle() in ('--', ':')) == [1.0,
                                                                                                         558.0]
  assert ax.get_title().endswith(': 2 seeds, up to 10 episodes')
  assert run_figures.reduced_compute_panel(ax, 'walker', [], {}) is None and 'no run yet' in ax.get_title()
  run_figures.plt.close(fig)
  path = run_figures.plot_reduced_compute(runs, {}, str(tmp_path))
  assert path == str(tmp_path / 'reduced_compute.png') and os.path.getsize(path) > 1000
  assert run_figures.plot_reduced_compute([r for r in runs if r.variant == 'planet'], {}, str(tmp_path)) is None
