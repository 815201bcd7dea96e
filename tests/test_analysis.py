"""Reading results/ (planet/report/analysis.py): the percentile band of pooled curves by hand."""
import numpy as np

from conftest import write_result_run
from planet.report import analysis


def test_percentile_band_on_hand_example(tmp_path):
  write_result_run(tmp_path, 'cartpole', 'planet', 0, {10: [0, 10, 20, 30, 40]})
  write_result_run(tmp_path, 'cartpole', 'planet', 1, {10: [50, 60, 70, 80, 90, 100], 20: [5.0]})
  runs = analysis.find_runs(str(tmp_path))
  episodes, median, low, high, counts = analysis.pooled_curve(runs)
  assert episodes == [10, 20] and counts == [11, 1]
  pooled = np.arange(0, 101, 10)  # 11 trajectories pooled over both seeds.
  assert median[0] == 50
  # numpy's linear interpolation: the 5th percentile sits at rank 0.5 -> 5, the 95th at rank 9.5 -> 95.
  assert low[0] == np.percentile(pooled, 5) == 5.0 and high[0] == np.percentile(pooled, 95) == 95.0
  assert median[1] == low[1] == high[1] == 5.0
