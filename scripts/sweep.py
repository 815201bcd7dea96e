#!/usr/bin/env python
"""Run the paper's experiments: Table 1 and the figures' runs, on this machine or a Ray cluster.

  python scripts/sweep.py table1 --dry_run                 # each run, its state and directory, the cost; checks configs
  python scripts/sweep.py fig4 --tasks cheetah --seeds 0-2 --gpus 0.25 --cpus 2   # four runs per GPU
  python scripts/sweep.py all --status                     # not started / running / partial / done / failed
  python scripts/sweep.py truesim --tasks cartpole,cheetah --episodes 2 --cpus 1
  python scripts/sweep.py all --address auto --gpus 1      # on a cluster head after `ray start`
  python scripts/sweep.py table1 --tasks cartpole --gin_file=gin/gpu.gin --cpus 4 --measure_sharing 1,2,4
                                                           # runs per GPU: time 1, 2, 4 runs at once on one GPU

Matrices: table1, fig4, fig5, fig6, fig8, fig9, truesim, fig12, all. Rerunning the same command starts only
unfinished runs (they resume from their checkpoints); finished runs' small files are copied into results/, so
`python scripts/plot.py` draws Table 1 and the figures afterwards. Ctrl-C or SIGTERM stops the running runs
cleanly (their progress saved; exit 130). Needs the [cluster] extra (Ray).
"""
import argparse
import logging
import sys

from planet import cli
from planet import config as config_lib
from planet.experiments import driver
from planet.experiments import matrix
from planet.experiments import sharing
from planet.experiments import state

PARSER = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
PARSER.add_argument('matrix', help=f"one of {', '.join(matrix.MATRICES)}")
PARSER.add_argument('--tasks', default=None, help='comma-separated tasks (default: all six)')
PARSER.add_argument('--variants', default=None,
                    help=f"comma-separated variants of the matrix ({', '.join(matrix.VARIANTS)})")
PARSER.add_argument('--seeds', default=None, help="seeds, e.g. '0-4' or '0,2' (default: 0-4, the paper's five)")
PARSER.add_argument('--episodes', type=int, default=matrix.TRUE_SIM_EPISODES, help='true-simulator episodes per task')
PARSER.add_argument('--gin_file', action='append', default=[],
                    help='extra overlay for every training run, e.g. gin/gpu.gin (repeatable)')
PARSER.add_argument('--logs', default='logs', help='root of the run directories (shared storage on a cluster)')
PARSER.add_argument('--results', default='results', help='where finished runs are collected and plot.py reads')
PARSER.add_argument('--cpus', type=float, default=2, help='CPUs per run (also its thread count)')
PARSER.add_argument('--gpus', type=float, default=0, help='GPUs per run; fractions share a GPU (0.25: four)')
PARSER.add_argument('--memory_gb', type=float, default=None, help='memory per run that Ray reserves')
PARSER.add_argument('--retries', type=int, default=2, help='retries of a crashed run or a lost worker')
PARSER.add_argument('--address', default=None, help="Ray cluster address ('auto' on a head node)")
PARSER.add_argument('--dry_run', action='store_true', help='print the runs and check their configurations')
PARSER.add_argument('--status', action='store_true', help="print each run's state and stop")
PARSER.add_argument('--measure_sharing', default=None, metavar='COUNTS',
                    help="instead of the sweep: time the first selected run's configuration at 1, 2, 4 ... "
                         "runs at once on one GPU (e.g. 1,2,4), to choose --gpus; nothing under --logs is touched")
PARSER.add_argument('--seconds', type=float, default=900,
                    help='--measure_sharing: time limit per count (it ends sooner once each run has its timed '
                         'episodes)')
PARSER.add_argument('--timed_episodes', type=int, default=sharing.SHARING_EPISODES,
                    help='--measure_sharing: timed episodes per run after which a count ends')
PARSER.add_argument('--gpu', type=int, default=None,
                    help="--measure_sharing: the GPU the runs share (default: TensorFlow's first)")
PARSER.add_argument('--out', default=None, help='--measure_sharing: append its JSON record to this file')


def main(argv=None):
  args = PARSER.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  try:
    selected = matrix.runs(args.matrix, args.tasks and args.tasks.split(','),
                           args.variants and args.variants.split(','), matrix.parse_seeds(args.seeds), args.episodes,
                           args.logs, args.results, args.gin_file)
    warning = matrix.xla_warning(args.gin_file, args.gpus)
  except (ValueError, config_lib.ConfigError) as e:
    cli.fail(e)
  if args.status:
    print(state.status_table(selected, args.results))
    return
  if warning:
    print(warning, file=sys.stderr)
  if args.measure_sharing:
    driver.measure_sharing(selected, args.measure_sharing, args.seconds, args.cpus, args.gpu, args.timed_episodes,
                           args.out)
  elif args.dry_run:
    driver.dry_run(selected, args.gpus, args.results)
  else:
    driver.sweep(selected, args.cpus, args.gpus, args.memory_gb, args.retries, args.address, args.results)


if __name__ == '__main__':
  main()
