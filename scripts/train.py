#!/usr/bin/env python
"""Train PlaNet: python scripts/train.py --gin_file=gin/cartpole.gin [--gin_file=...] [--gin_param=...]

The run directory defaults to logs/<task>/<config>/seed<N>, where <config> names the gin files after the task
file (e.g. `planet`, `ssm`, `quick`). Rerunning the same command resumes the run.
"""
import argparse
import logging
import os
import platform
import shlex
import sys
import time

from planet import cli
from planet import training


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--gin_file', action='append', default=[], help='gin config file (repeatable)')
  parser.add_argument('--gin_param', action='append', default=[], help="gin binding, e.g. 'train.seed=1'")
  parser.add_argument('--logdir', default=None, help='run directory (default: logs/<task>/<config>/seed<N>)')
  parser.add_argument('--no_progress', action='store_true', help='no progress bar (e.g. for log files)')
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
  for name in ('tensorflow', 'absl'):  # Checkpoint saves log at INFO every episode.
    logging.getLogger(name).setLevel(logging.WARNING)
  try:
    logdir = cli.configure(args.gin_file, args.gin_param, args.logdir)
  except cli.ConfigError as e:
    sys.exit(f'error: {e}')
  logging.info('run directory: %s', logdir)
  os.makedirs(logdir, exist_ok=True)
  with open(os.path.join(logdir, 'command.txt'), 'a') as f:  # Provenance: every (re)start of the run.
    f.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} on {platform.node()} ({platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores): python {' '.join(shlex.quote(a) for a in sys.argv)}\n")
  try:
    training.train(logdir, progress=not args.no_progress)
  except training.TrainingDiverged as e:
    sys.exit(f'error: {e}')


if __name__ == '__main__':
  main()
