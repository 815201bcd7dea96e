#!/usr/bin/env python
"""Does mixed precision train like float32? Same initial weights, same batches from a run's episodes:

  python scripts/compare_precision.py --episodes logs/cartpole/quick/seed0/train_episodes \
      --gin_file=gin/cartpole.gin --gin_file=gin/quick.gin --steps 100 [--out results/benchmarks/precision_X.jsonl]

Trains three copies of the world model: float32, float32 with other noise draws (dequantization noise and
posterior samples), and gin/mixed_precision.gin with the first run's draws. Reports the mean of each loss term
over the last quarter of the steps and the median train step time: bfloat16 matches when it lies as close to
float32 as the other noise draws do. One JSON line per run, then a table.
"""
import argparse
import logging

from planet import machine

machine.import_tensorflow()  # Quietly (no C++ start-up lines), before the modules below import it.

from planet import cli
from planet.measure import precision

PARSER = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
PARSER.add_argument('--episodes', required=True, help='a folder of episode .npz files (a run\'s train_episodes)')
PARSER.add_argument('--gin_file', action='append', default=[],
                    help="the run's gin files, e.g. gin/cartpole.gin then gin/quick.gin (repeatable)")
PARSER.add_argument('--gin_param', action='append', default=[], help='extra gin binding (repeatable)')
PARSER.add_argument('--steps', type=int, default=100)
PARSER.add_argument('--out', default=None, help='append the JSON lines to this file')


def main(argv=None):
  args = PARSER.parse_args(argv)
  logging.basicConfig(level=logging.WARNING)
  try:
    precision.compare_precision(args.episodes, args.gin_file, args.gin_param, args.steps, args.out)
  except ValueError as e:
    cli.fail(e)


if __name__ == '__main__':
  main()
