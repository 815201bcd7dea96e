"""The FLOP model (planet/measure/flops.py) against a hand computation."""
from planet.measure import flops


def test_flop_counts_match_hand_computation():
  # First encoder layer at depth 32: 31x31 outputs, 4x4x3 kernel, 32 filters, 2 FLOPs per multiply-add.
  assert flops.conv_flops(64, 3, 32, 4, False) == 2 * 31 * 31 * 4 * 4 * 3 * 32
  # Last decoder layer: 30x30 inputs, each scattering a 6x6x3 patch from 32 channels.
  assert flops.conv_flops(30, 32, 3, 6, True) == 2 * 30 * 30 * 6 * 6 * 32 * 3
  paper = dict(stoch=30, deter=200, hidden=200, depth=32, reward_units=200, reward_layers=2, batch=50, length=50,
               action=1, candidates=1000, horizon=12, iterations=10)
  assert 0.55e12 < flops.train_step_flops(paper) < 0.65e12  # ~0.59 TFLOP a train step at the paper's sizes
  assert 85e9 < flops.plan_flops(paper) < 95e9  # ~90 GFLOP
  # The plan call's matmuls, written out: the RSSM prior's five layers per imagined step (J = 1000 rows, I x H =
  # 120 steps), the reward head's three over all 12,000 imagined states once per iteration; together, its FLOPs.
  shapes = flops.plan_matmuls(paper)
  assert shapes == [(1000, 31, 200, 120), (1000, 400, 400, 120), (1000, 400, 200, 120), (1000, 200, 200, 120),
                    (1000, 200, 60, 120), (12000, 230, 200, 10), (12000, 200, 200, 10), (12000, 200, 1, 10)]
  assert sum(2 * m * k * n * count for m, k, n, count in shapes) == flops.plan_flops(paper)
