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


def test_a_run_bound_to_auto_precision_counts_under_its_name_with_what_auto_resolved_to(tmp_path):
  name = 'planet+Encoder.precision=auto'  # As scripts/train.py names --gin_param="Encoder.precision='auto'".
  for recorded, verdict in [("'bfloat16'", 'checked'), ("'float32'", 'checked'), ("'float16'", 'differs')]:
    write_result_run(tmp_path / recorded.strip("'"), 'cartpole', name, 0, {10: [1.0]})
    path = tmp_path / recorded.strip("'") / 'cartpole' / name / 'seed0'
    config = (path / 'config.gin').read_text()
    (path / 'config.gin').write_text(config + f'Encoder.precision = {recorded}\n')
    assert analysis.check_settings(str(path), 'cartpole', name)[0] == verdict


def test_quick_runs_recorded_before_quick_gin_bound_auto_precision_still_count_as_quick(tmp_path):
  # gin/quick.gin binds the convs' precision to 'auto'; a quick run recorded before, with no precision binding, ran
  # float32 and is still a quick run. One that bound float16 is not.
  path = tmp_path / 'cartpole' / 'quick' / 'seed0'
  write_result_run(tmp_path, 'cartpole', 'quick', 0, {10: [1.0]})
  config = (path / 'config.gin').read_text()
  assert "Encoder.precision = 'auto'" in config
  kept = ''.join(line + '\n' for line in config.splitlines() if '.precision' not in line)
  (path / 'config.gin').write_text(kept)
  assert analysis.check_settings(str(path), 'cartpole', 'quick') == ('checked', '')
  (path / 'config.gin').write_text(kept + "Encoder.precision = 'float16'\n")
  assert analysis.check_settings(str(path), 'cartpole', 'quick')[0] == 'differs'
