#!/usr/bin/env python
"""CEM planning with the true simulator: Table 1's last row and the planner sweep of Figure 12.

  python scripts/true_sim.py --task=cheetah --episodes 1                      # paper settings H12 I10 J1000 K100
  python scripts/true_sim.py --task=cheetah --horizon 8 --candidates 500      # any one setting
  python scripts/true_sim.py --task=cheetah --sweep --episodes 2              # Fig. 12: one knob at a time
  python scripts/true_sim.py --plot                                           # draw Fig. 12 (also plot.py)
  python scripts/true_sim.py --benchmark                                      # physics steps/s vs. env.step

Scores go to results/true_sim/<task>.jsonl, one line per episode; a rerun skips what is already there, so an
interrupted sweep resumes; an episode stopped part-way (Ctrl-C, SIGTERM, a kill) continues at the step where it
stopped. Uses all cores (MuJoCo's threaded rollout); processes started side by side on the same episodes share them
(one skips an episode another is playing).
"""
import argparse
import json
import logging
import os

from planet import machine

machine.import_tensorflow()  # Quietly (no C++ start-up lines), before the modules below import it.

from planet import cli
from planet import gin_text
from planet.experiments import matrix
from planet.experiments import true_sim
from planet.experiments import true_sim_episodes
from planet.report import figures

PARSER = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
PARSER.add_argument('--task', default='cheetah')
PARSER.add_argument('--horizon', type=int, default=matrix.CEM_PAPER.horizon)
PARSER.add_argument('--iterations', type=int, default=matrix.CEM_PAPER.iterations)
PARSER.add_argument('--candidates', type=int, default=matrix.CEM_PAPER.candidates)
PARSER.add_argument('--top_k', type=int, default=matrix.CEM_PAPER.top_k)
PARSER.add_argument('--episodes', type=int, default=1)
PARSER.add_argument('--std_estimator', default='std', choices=['paper', 'std'],
                    help="CEM refit spread: the authors' code ('std', default) or Algorithm 2 as printed ('paper')")
PARSER.add_argument('--warm_start', action='store_true',
                    help='start each step from the previous plan shifted by one (not in the paper; a probe)')
PARSER.add_argument('--sweep', action='store_true', help="Fig. 12's grid instead of one setting")
PARSER.add_argument('--threads', type=int, default=None, help='rollout threads (default: all cores)')
PARSER.add_argument('--out', default=os.path.join(gin_text.REPO_ROOT, 'results', 'true_sim'))
PARSER.add_argument('--plot', action='store_true', help='draw Fig. 12 from the records and stop')
PARSER.add_argument('--benchmark', action='store_true', help='physics steps/s, then stop')
PARSER.add_argument('--start_hits', type=int, default=0,
                    help='for seeds 0..N-1: share of random sequences with any reward from the start, then stop')
PARSER.add_argument('--benchmark_out', default=None)
PARSER.add_argument('--no_progress', action='store_true', help='no progress bar (e.g. for log files)')
PARSER.add_argument('--episode', type=int, default=None,
                    help='with --record: play this one episode (seed) and write its record there (sweep jobs)')
PARSER.add_argument('--record', default=None,
                    help='a JSON file for the one record of --episode (an episode whose file exists is not played again)')


def main(argv=None):
  args = PARSER.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  if args.plot:
    results = os.path.dirname(args.out)
    path = figures.fig12(results, os.path.join(results, 'figures'), args.task)
    if not path:
      cli.fail(f"no true-simulator episodes of {args.task} off the paper's setting to draw: play some with --sweep")
    logging.info('wrote %s', path)
    return
  try:
    true_sim_episodes.check_task(args.task)
  except ValueError as e:
    cli.fail(e)
  if args.start_hits:
    print('\n'.join(true_sim.start_hit_rates(args.task, args.start_hits)))
  elif args.benchmark:
    print('\n'.join(json.dumps(record) for record in true_sim.benchmark(args.task, args.benchmark_out)))
  elif (args.record is None) != (args.episode is None):
    cli.fail('give --episode and --record together (one episode, one record file)')
  else:
    settings = matrix.cem_sweep_settings() if args.sweep and args.record is None else [
        matrix.CemSettings(args.horizon, args.iterations, args.candidates, args.top_k)]
    true_sim_episodes.play_to_exit(args.task, settings, args.episodes, args.out, args.std_estimator, args.warm_start,
                                   args.threads, not args.no_progress, args.episode, args.record)


if __name__ == '__main__':
  main()
