#!/usr/bin/env python
"""Evaluate, visualise and probe a trained run directory.

  python scripts/evaluate.py --logdir logs/cartpole/planet/seed0 [--episodes 10]   # scores -> eval.json
  python scripts/evaluate.py --logdir ... --video        # Fig. 10: open-loop prediction strip (PNG) and GIF
  python scripts/evaluate.py --logdir ... --diagnose     # Fig. 11: probes of positions, velocities and reward
  python scripts/evaluate.py --logdir ... --gin_param cem_plan.candidates=1000   # the same starts, another planner
  python scripts/evaluate.py --logdir ... --episodes 0 --predictions 3   # what the planner expects against what it gets
Outputs go to <logdir>/analysis/ (and eval.json, which scripts/plot.py --collect copies into results/; an evaluation
with --gin_param writes analysis/eval+<bindings>.json instead). Test episodes have no exploration noise, and
episode k starts from the same state in every evaluation.
"""
import argparse
import logging
import os

from planet import cli
from planet import config as config_lib
from planet import machine
from planet import rundir

PARSER = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
PARSER.add_argument('--logdir', required=True)
PARSER.add_argument('--checkpoint', default=None, help='default: the latest in <logdir>/checkpoints')
PARSER.add_argument('--episodes', type=int, default=10, help='test episodes to score (0: none)')
PARSER.add_argument('--gin_param', action='append', default=[],
                    help="binding over the run's config.gin, e.g. 'cem_plan.iterations=10' (repeatable)")
PARSER.add_argument('--explore', action='store_true',
                    help="--episodes with the training episodes' exploration noise (a diagnostic; own record)")
PARSER.add_argument('--predictions', type=int, default=0, metavar='EPISODES',
                    help="the planner's predicted returns against the paid ones over this many test episodes")
PARSER.add_argument('--video', action='store_true', help='Fig. 10 open-loop video prediction')
PARSER.add_argument('--diagnose', action='store_true', help='Fig. 11 state diagnostics')
PARSER.add_argument('--context', type=int, default=5)
PARSER.add_argument('--horizon', type=int, default=50)


def main(argv=None):
  args = PARSER.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  logging.getLogger('tensorflow').setLevel(logging.WARNING)
  if not os.path.isdir(args.logdir):
    cli.fail(f'no run directory {args.logdir}: give the --logdir of a scripts/train.py run')
  machine.import_tensorflow()
  # TensorFlow loads here, after its log level is set.
  from planet.report import evaluation  # pylint: disable=import-outside-toplevel
  try:
    run = evaluation.LoadedRun(args.logdir, args.checkpoint, make_env=args.episodes > 0 or args.predictions > 0,
                               gin_params=args.gin_param)
  except (FileNotFoundError, config_lib.ConfigError) as e:
    cli.fail(e)
  out = rundir.RunDir(args.logdir).analysis
  os.makedirs(out, exist_ok=True)
  if args.episodes:
    evaluation.evaluate(run, args.episodes, explore=args.explore)
  if args.predictions:
    evaluation.planner_predictions(run, args.predictions)
  if args.video:
    evaluation.write_openloop_video(run, out, args.context, args.horizon)
    logging.info('wrote %s/openloop_strip.png (rows: truth, prediction, difference) and openloop.gif', out)
  if args.diagnose:
    evaluation.write_diagnostics(run, out, args.context, args.horizon)
    logging.info('wrote %s/diagnostics.png and diagnostics.json', out)


if __name__ == '__main__':
  main()
