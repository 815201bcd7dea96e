#!/usr/bin/env python
"""The while loops of XLA's optimized HLO: trip counts and running instructions (GPU kernels) per iteration.

  XLA_FLAGS=--xla_dump_to=/tmp/dump python scripts/benchmark.py --jit --skip env,episode,matmul,parts
  python scripts/hlo_loops.py /tmp/dump --match train_step

A loop whose trip count XLA does not know waits on the host after every iteration on a GPU (planet/measure/hlo.py).
"""
import argparse

from planet import cli
from planet.measure import hlo

PARSER = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
PARSER.add_argument('directory', help='the --xla_dump_to directory')
PARSER.add_argument('--match', default='', help='only files whose name contains this (e.g. train_step, step_impl)')


def main(argv=None):
  args = PARSER.parse_args(argv)
  paths = hlo.dump_files(args.directory, args.match)
  if not paths:
    cli.fail(f"no *after_optimizations.txt{' matching ' + repr(args.match) if args.match else ''} in "
             f'{args.directory}: run with XLA_FLAGS=--xla_dump_to={args.directory} and XLA on (--jit, gin/gpu.gin)')
  for path in paths:
    print('\n'.join(hlo.summary(path)))


if __name__ == '__main__':
  main()
