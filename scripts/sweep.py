#!/usr/bin/env python
"""Run the paper's experiments: Table 1 and the figures' runs, on this machine or a Ray cluster.

  python scripts/sweep.py table1 --dry_run                 # the runs, their directories and resources; checks configs
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
import json
import logging
import sys

from planet import cli
from planet import config as config_lib
from planet import rundir
from planet.experiments import estimates
from planet.experiments import launcher
from planet.experiments import matrix
from planet.experiments import sharing
from planet.experiments import state


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('matrix', help=f"one of {', '.join(matrix.MATRICES)}")
  parser.add_argument('--tasks', default=None, help='comma-separated tasks (default: all six)')
  parser.add_argument('--variants', default=None,
                      help=f"comma-separated variants of the matrix ({', '.join(matrix.VARIANTS)})")
  parser.add_argument('--seeds', default=None, help="seeds, e.g. '0-4' or '0,2' (default: 0-4, the paper's five)")
  parser.add_argument('--episodes', type=int, default=matrix.TRUE_SIM_EPISODES, help='true-simulator episodes per task')
  parser.add_argument('--gin_file', action='append', default=[],
                      help='extra overlay for every training run, e.g. gin/gpu.gin (repeatable)')
  parser.add_argument('--logs', default='logs', help='root of the run directories (shared storage on a cluster)')
  parser.add_argument('--results', default='results', help='where finished runs are collected and plot.py reads')
  parser.add_argument('--cpus', type=float, default=2, help='CPUs per run (also its thread count)')
  parser.add_argument('--gpus', type=float, default=0, help='GPUs per run; fractions share a GPU (0.25: four)')
  parser.add_argument('--memory_gb', type=float, default=None, help='memory per run that Ray reserves')
  parser.add_argument('--retries', type=int, default=2, help='retries of a crashed run or a lost worker')
  parser.add_argument('--address', default=None, help="Ray cluster address ('auto' on a head node)")
  parser.add_argument('--dry_run', action='store_true', help='print the runs and check their configurations')
  parser.add_argument('--status', action='store_true', help="print each run's state and stop")
  parser.add_argument('--measure_sharing', default=None, metavar='COUNTS',
                      help="instead of the sweep: time the first selected run's configuration at 1, 2, 4 ... "
                           "runs at once on one GPU (e.g. 1,2,4), to choose --gpus; nothing under --logs is touched")
  parser.add_argument('--seconds', type=float, default=900,
                      help='--measure_sharing: time limit per count (it ends sooner once each run has its timed '
                           'episodes)')
  parser.add_argument('--timed_episodes', type=int, default=sharing.SHARING_EPISODES,
                      help='--measure_sharing: timed episodes per run after which a count ends')
  parser.add_argument('--gpu', type=int, default=None,
                      help="--measure_sharing: the GPU the runs share (default: TensorFlow's first)")
  parser.add_argument('--out', default=None, help='--measure_sharing: append its JSON record to this file')
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  try:
    seeds = None
    if args.seeds:
      seeds = [s for part in args.seeds.split(',') for s in (
          range(int(part.split('-')[0]), int(part.split('-')[1]) + 1) if '-' in part else [int(part)])]
    selected = matrix.runs(args.matrix, args.tasks and args.tasks.split(','),
                          args.variants and args.variants.split(','), seeds, args.episodes, args.logs, args.results,
                          args.gin_file)
    warning = matrix.xla_warning(args.gin_file, args.gpus)
  except (ValueError, config_lib.ConfigError) as e:
    cli.fail(e)
  if args.status:
    print(state.status_table(selected, args.results))
    return
  if warning:
    print(warning, file=sys.stderr)
  if args.measure_sharing:
    cli.stop_on_signals()
    try:
      record = sharing.measure_sharing(*sharing.sharing_selection(selected, args.measure_sharing), args.seconds,
                                     args.cpus, args.gpu, progress=sys.stderr.isatty(),
                                     timed_episodes=args.timed_episodes)
    except ValueError as e:
      cli.fail(e)
    except RuntimeError as e:
      cli.fail(e, cli.EXIT_CRASH)
    except KeyboardInterrupt:
      print('stopped: the runs were stopped and their temporary directories removed', file=sys.stderr)
      sys.exit(cli.EXIT_INTERRUPTED)
    print(sharing.sharing_table(record))
    print(json.dumps(record))
    if args.out:
      rundir.append_jsonl(args.out, record)
    return
  if args.dry_run:
    for run in selected:
      print(f'{run.name:<48} {run.path}')
    print(estimates.plan_summary(selected, args.gpus or 1, args.results))
    errors = matrix.check_configurations(selected)
    for name, error in errors:
      print(f'{name}: {error}')
    if errors:
      cli.fail(f'{len(errors)} configuration(s) do not parse (listed above)')
    print('every configuration parses')
    return
  cli.stop_on_signals()  # Also while Ray starts (planet.experiments.launcher.launch keeps it so afterwards).
  stopped = False
  try:
    outcomes = launcher.launch(selected, args.cpus, args.gpus, args.memory_gb, args.retries, args.address,
                            args.results, threads=max(1, int(args.cpus)))
  except KeyboardInterrupt:
    outcomes, stopped = {}, True
  try:
    merged = launcher.merge_true_sim(args.results)
    copied = launcher.collect(selected, args.results)
  except OSError as e:  # A full disk while collecting: the run directories are intact, the same command collects.
    cli.fail_on_storage(e)
  failed = {name: outcome for name, outcome in outcomes.items() if outcome[0] not in (cli.EXIT_OK,)}
  logging.info('%d run(s) started, %d failed; %d true-simulator record(s) merged, %d run(s) collected into %s',
               len(outcomes), len(failed), merged, len(copied), args.results)
  print(state.status_table(selected, args.results))
  if stopped:
    print('stopped: the running runs were told to stop and save their progress; the same command resumes them',
          file=sys.stderr)
    sys.exit(cli.EXIT_INTERRUPTED)
  if failed:
    cli.fail(f"{len(failed)} run(s) did not finish: {', '.join(sorted(failed))} (see each run's sweep.log)",
             cli.EXIT_CRASH)


if __name__ == '__main__':
  main()
