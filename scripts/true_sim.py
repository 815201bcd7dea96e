#!/usr/bin/env python
"""CEM planning with the true simulator: Table 1's last row and the planner sweep of Figure 12.

  python scripts/true_sim.py --task=cheetah --episodes 1                      # paper settings H12 I10 J1000 K100
  python scripts/true_sim.py --task=cheetah --horizon 8 --candidates 500      # any one setting
  python scripts/true_sim.py --task=cheetah --sweep --episodes 2              # Fig. 12: one knob at a time
  python scripts/true_sim.py --plot                                           # draw Fig. 12 (also plot.py)
  python scripts/true_sim.py --benchmark                                      # physics steps/s vs. env.step

Scores go to results/true_sim/<task>.jsonl, one line per episode; a rerun skips what is already there, so an
interrupted sweep resumes; an episode stopped part-way (Ctrl-C, SIGTERM, a kill) continues at the step where it
stopped. Uses all cores (MuJoCo's threaded rollout).
"""
import argparse
import json
import logging
import os
import sys

import numpy as np

from planet import cli
from planet import config as config_lib
from planet import rundir
from planet import tasks
from planet.experiments import matrix
from planet.experiments import true_sim
from planet.report import figures


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--task', default='cheetah')
  parser.add_argument('--horizon', type=int, default=matrix.CEM_PAPER.horizon)
  parser.add_argument('--iterations', type=int, default=matrix.CEM_PAPER.iterations)
  parser.add_argument('--candidates', type=int, default=matrix.CEM_PAPER.candidates)
  parser.add_argument('--top_k', type=int, default=matrix.CEM_PAPER.top_k)
  parser.add_argument('--episodes', type=int, default=1)
  parser.add_argument('--std_estimator', default='std', choices=['paper', 'std'],
                      help="CEM refit spread: the authors' code ('std', default) or Algorithm 2 as printed ('paper')")
  parser.add_argument('--warm_start', action='store_true',
                      help='start each step from the previous plan shifted by one (not in the paper; a probe)')
  parser.add_argument('--sweep', action='store_true', help="Fig. 12's grid instead of one setting")
  parser.add_argument('--threads', type=int, default=None, help='rollout threads (default: all cores)')
  parser.add_argument('--out', default=os.path.join(config_lib.REPO_ROOT, 'results', 'true_sim'))
  parser.add_argument('--plot', action='store_true', help='draw Fig. 12 from the records and stop')
  parser.add_argument('--benchmark', action='store_true', help='physics steps/s, then stop')
  parser.add_argument('--start_hits', type=int, default=0,
                      help='for seeds 0..N-1: share of random sequences with any reward from the start, then stop')
  parser.add_argument('--benchmark_out', default=None)
  parser.add_argument('--no_progress', action='store_true', help='no progress bar (e.g. for log files)')
  parser.add_argument('--episode', type=int, default=None,
                      help='with --record: play this one episode (seed) and write its record there (sweep jobs)')
  parser.add_argument('--record', default=None, help='a JSON file for the one record of --episode')
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  if not args.plot and (args.task not in tasks.names() or tasks.get(args.task).true_reward is None):
    cli.fail(f"no true simulator for task {args.task!r}: choose one of {', '.join(tasks.names())}")
  if args.start_hits:
    print('\n'.join(true_sim.start_hit_rates(args.task, args.start_hits)))
    return
  if args.benchmark:
    for record in true_sim.benchmark(args.task, args.benchmark_out):
      print(json.dumps(record))
    return
  if args.plot:
    results = os.path.dirname(args.out)
    path = figures.fig12(results, os.path.join(results, 'figures'), args.task)
    if not path:
      cli.fail(f"no true-simulator episodes of {args.task} off the paper's setting to draw: play some with --sweep")
    logging.info('wrote %s', path)
    return
  if args.record is not None or args.episode is not None:
    if args.record is None or args.episode is None:
      cli.fail('give --episode and --record together (one episode, one record file)')
  cli.stop_on_signals()
  settings = matrix.cem_sweep_settings() if args.sweep and args.record is None else [
      matrix.CemSettings(args.horizon, args.iterations, args.candidates, args.top_k)]
  try:
    if args.record is not None:  # One sweep job.
      record = true_sim.play_one(args.task, settings[0], args.episode, args.record, args.std_estimator, args.threads,
                                 not args.no_progress)
      logging.info('%s episode %d: return %.1f', settings[0], args.episode, record['return'])
      return
    records = true_sim.run(args.task, settings, args.episodes, args.out, args.threads, not args.no_progress,
                           std_estimator=args.std_estimator, warm_start=args.warm_start)
  except KeyboardInterrupt:
    print('stopped: the episode so far is saved; the same command continues it', file=sys.stderr)
    sys.exit(cli.EXIT_INTERRUPTED)
  except true_sim.CheckpointMismatch as error:
    cli.fail(error)
  except rundir.RunDirBusy as error:  # Another process plays this episode.
    cli.fail(error, cli.EXIT_BUSY)
  except OSError as error:  # A full disk while saving the records: the episode so far is saved, it resumes.
    cli.fail_on_storage(error)
  for setting in settings:
    scores = [r['return'] for r in records if r['settings'] == list(setting)]
    if scores:
      logging.info('%s: mean return %.1f over %d episode(s)', setting, np.mean(scores), len(scores))


if __name__ == '__main__':
  main()
