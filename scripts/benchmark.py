#!/usr/bin/env python
"""Timings of PlaNet's hot paths, each also read as a fraction of the device's dense-matmul FLOP rate.

  python scripts/benchmark.py [--out results/benchmarks/cpu.jsonl] [--jit] [--tasks cartpole,cheetah]
      [--episode_gin gin/quick.gin] [--tiny] [--skip env,episode] [--profile]
  python scripts/benchmark.py --committed      # only the committed records, one column per machine
  python scripts/benchmark.py --jit --compare_binding 'time_loop.unroll = True'   # A/B in one process
  python scripts/benchmark.py --jit --skip env,episode,matmul,parts --xla_settings no_cmdbuf,cublaslt # one process each

Prints one JSON line per figure (name, value, unit, device, TF version, flags), a table, and then this run beside
the records committed in results/benchmarks/ (newest per machine), so every figure names its machine.
FLOP counts are computed from the layer sizes (planet/measure/flops.py): a multiply-add counts 2.
"""
import argparse
import logging
import sys

from planet import machine

machine.import_tensorflow()  # Quietly (no C++ start-up lines), before the modules below import it.

from planet import cli
from planet import tasks
from planet.experiments import records
from planet.measure import ab
from planet.measure import benchmark

PARSER = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
PARSER.add_argument('--out', default=None, help='append the JSON lines to this file')
PARSER.add_argument('--jit', action='store_true', help='compile the hot functions with XLA')
PARSER.add_argument('--tasks', default=','.join(tasks.names()))
PARSER.add_argument('--episode_gin', default='gin/quick.gin',
                    help="overlay for the training-episode figure ('' for the paper's settings)")
PARSER.add_argument('--gin_file', action='append', default=[],
                    help='extra overlay for every figure, e.g. gin/mixed_precision.gin (repeatable)')
PARSER.add_argument('--gin_param', action='append', default=[], help='extra gin binding (repeatable)')
PARSER.add_argument('--repeats', type=int, default=5)
PARSER.add_argument('--tiny', action='store_true', help='tiny sizes of gin/debug.gin (for tests of this script)')
PARSER.add_argument('--skip', default='', help=f"comma-separated parts to skip: {','.join(benchmark.PARTS)}")
PARSER.add_argument('--profile', action='store_true', help="also the plan call's time by op type (TF profiler)")
PARSER.add_argument('--committed', action='store_true',
                    help='print the committed records side by side (one column per machine) and stop')
PARSER.add_argument('--compare_binding', default=None, metavar='BINDING',
                    help="only an A/B in one process of the train step and plan call without and with a gin "
                         "binding read when tracing, e.g. 'time_loop.unroll = True' (--skip train or plan)")
PARSER.add_argument('--xla_settings', default=None, metavar='SETTINGS',
                    help=f"time each XLA setting in its own process, back to back, beside 'base': names "
                         f"({', '.join(ab.XLA_SETTINGS)}) or raw flags, comma-separated; the other options "
                         "apply to each, e.g. --jit --skip env,episode,matmul,parts --xla_settings no_cmdbuf")


def main(argv=None):
  args = PARSER.parse_args(argv)
  if args.xla_settings:
    each = ab.without_options(sys.argv[1:] if argv is None else argv, ('--xla_settings', '--out'))
    try:
      _, failed = ab.compare_xla_settings(ab.split_settings(args.xla_settings), each, args.out)
    except ValueError as e:
      cli.fail(e)
    if failed:
      cli.fail(f"the benchmark failed under {', '.join(failed)} (its output is above)", cli.EXIT_CRASH)
    return
  if args.committed:
    machines = records.committed()
    if not machines:
      cli.fail(f'no benchmark records in {records.COMMITTED_DIR}')
    print('\n'.join(records.side_by_side(machines)))
    return
  logging.basicConfig(level=logging.WARNING)
  if args.compare_binding:
    ab.compare_binding(args.compare_binding, args.out, args.jit, args.gin_file, args.gin_param, args.repeats * 2,
                       args.tiny, set(filter(None, args.skip.split(','))))
    return
  unknown = [task for task in args.tasks.split(',') if task not in tasks.names()]
  unknown += [part for part in filter(None, args.skip.split(',')) if part not in benchmark.PARTS]
  if unknown:
    cli.fail(f"unknown task or part {', '.join(unknown)}: tasks are {', '.join(tasks.names())}, parts "
             f"{', '.join(benchmark.PARTS)}")
  benchmark.run(args.out, args.jit, args.tasks.split(','), args.episode_gin, args.gin_file, args.gin_param,
                args.repeats, args.tiny, filter(None, args.skip.split(',')), args.profile)


if __name__ == '__main__':
  main()
