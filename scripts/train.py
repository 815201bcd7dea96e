#!/usr/bin/env python
"""Train PlaNet: python scripts/train.py --gin_file=gin/cartpole.gin [--gin_file=...] [--gin_param=...]

The run directory defaults to logs/<task>/<config>/seed<N>, where <config> names the gin files after the task
file (e.g. `planet`, `ssm`, `quick`) and any --gin_param. Rerunning the same command resumes the run; Ctrl-C
stops it between episodes. Exit codes: 0 done (or already complete), 1 crash, 2 bad input, 3 diverged loss,
4 run directory in use, 5 the run directory cannot be written (a full disk; resumable), 130 interrupted (resumable).
"""
import argparse
import logging
import sys

from planet import cli
from planet import config as config_lib
from planet import machine
from planet.experiments import estimates

PARSER = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
PARSER.add_argument('--gin_file', action='append', default=[], help='gin config file (repeatable)')
PARSER.add_argument('--gin_param', action='append', default=[], help="gin binding, e.g. 'train.seed=1'")
PARSER.add_argument('--logdir', default=None, help='run directory (default: logs/<task>/<config>/seed<N>)')
PARSER.add_argument('--no_progress', action='store_true', help='no progress bar (e.g. for log files)')
PARSER.add_argument('--verbose', action='store_true', help="TensorFlow's own start-up and C++ logs too")


def main(argv=None):
  args = PARSER.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  for name in ('tensorflow', 'absl'):  # Checkpoint saves log at INFO every episode.
    logging.getLogger(name).setLevel(logging.WARNING)
  tf = machine.import_tensorflow(args.verbose)  # Before gin/base.gin imports the package's TensorFlow modules.
  try:
    logdir = config_lib.configure(args.gin_file, args.gin_param, args.logdir)
    config_lib.check_rendering_backend()
  except config_lib.ConfigError as e:
    cli.fail(e)
  from planet import runner  # pylint: disable=import-outside-toplevel  # TensorFlow: after its log level is set.
  total = runner.planned_episodes()
  if runner.is_complete(logdir, total):
    return
  precision = runner.bind_precision()
  if precision:
    logging.info(precision)
  logging.info('run directory: %s', logdir)
  host = runner.log_machine(tf, estimates.cpu_episode_minutes)
  records = runner.train_to_exit(logdir, total, not args.no_progress, runner.command_record(host, sys.argv))
  episodes = records[-1].get('all_episodes', len(records)) if records else 0
  logging.info('run complete: %d episodes in %s (python scripts/plot.py --collect %s copies its results)',
               episodes, logdir, logdir)


if __name__ == '__main__':
  main()
