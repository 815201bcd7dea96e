#!/usr/bin/env python
"""Train PlaNet: python scripts/train.py --gin_file=gin/cartpole.gin [--gin_file=...] [--gin_param=...]

The run directory defaults to logs/<task>/<config>/seed<N>, where <config> names the gin files after the task
file (e.g. `planet`, `ssm`, `quick`) and any --gin_param. Rerunning the same command resumes the run; Ctrl-C
stops it between episodes. Exit codes: 0 done (or already complete), 1 crash, 2 bad input, 3 diverged loss,
4 run directory in use, 5 the run directory cannot be written (a full disk; resumable), 130 interrupted (resumable).
"""
import argparse
import logging
import os
import platform
import shlex
import sys
import time

from planet import cli
from planet import config as config_lib
from planet import machine
from planet import rundir
from planet.experiments import estimates


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--gin_file', action='append', default=[], help='gin config file (repeatable)')
  parser.add_argument('--gin_param', action='append', default=[], help="gin binding, e.g. 'train.seed=1'")
  parser.add_argument('--logdir', default=None, help='run directory (default: logs/<task>/<config>/seed<N>)')
  parser.add_argument('--no_progress', action='store_true', help='no progress bar (e.g. for log files)')
  parser.add_argument('--verbose', action='store_true', help="TensorFlow's own start-up and C++ logs too")
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  for name in ('tensorflow', 'absl'):  # Checkpoint saves log at INFO every episode.
    logging.getLogger(name).setLevel(logging.WARNING)
  tf = machine.import_tensorflow(args.verbose)  # Before gin/base.gin imports the package's TensorFlow modules.
  try:
    logdir = config_lib.configure(args.gin_file, args.gin_param, args.logdir)
    config_lib.check_rendering_backend()
  except config_lib.ConfigError as e:
    cli.fail(e)
  from planet import training  # pylint: disable=import-outside-toplevel  # TensorFlow: after its log level is set.
  tasks = training.task_list(config_lib.query('train.task'), config_lib.query('train.multitask_tasks', None))
  total = config_lib.query('train.total_episodes') * len(tasks)
  if os.path.isdir(logdir) and training.episodes_on_disk(logdir) >= total:
    logging.info('%s is complete (%d episodes); nothing to do. python scripts/plot.py --collect %s copies its '
                 'results', logdir, total, logdir)
    return
  logging.info('run directory: %s', logdir)
  gpu_line = machine.gpu_report(tf, config_lib.query('Learner.jit_compile'))
  if gpu_line:
    logging.info(gpu_line)
  else:
    minutes = estimates.cpu_episode_minutes()
    if minutes and minutes > 5:
      logging.info('no GPU: with these settings an episode takes about %.0f minutes on this CPU (scaled from the '
                   'benchmark records in results/benchmarks/), so '
                   "the paper's 1000 episodes take days; for a CPU learning curve add --gin_file=gin/quick.gin, "
                   'for a GPU see docs/gpu.md', minutes)
  host = gpu_line.split(';')[0] if gpu_line else machine.cpu_description()
  command = (f"{time.strftime('%Y-%m-%d %H:%M:%S')} on {platform.node()} ({host}), commit "
             f"{machine.commit() or 'unknown'}: python {' '.join(shlex.quote(a) for a in sys.argv)}")
  cli.stop_on_signals()  # Ctrl-C and a scheduler's SIGTERM: stop cleanly between episodes.

  def finish(code, reason):  # exit.json for scripts/sweep.py (not when the directory belongs to another run).
    try:
      rundir.write_exit(logdir, code, reason, training.episodes_on_disk(logdir), total)
    except OSError:  # A full disk: the one line below still says what happened.
      pass
    if code == cli.EXIT_INTERRUPTED:
      sys.exit(code)
    if code:
      cli.fail(reason, code)

  try:
    records = training.train(logdir, progress=not args.no_progress, command=command)
  except KeyboardInterrupt:
    print(f'stopped at episode {training.episodes_on_disk(logdir)} of {total} in {logdir}; rerun the same command '
          'to resume', file=sys.stderr)
    finish(cli.EXIT_INTERRUPTED, 'interrupted')
  except rundir.RunDirBusy as e:
    cli.fail(e, cli.EXIT_BUSY)
  except rundir.StorageError as e:  # A full disk or a file system gone: stopped, nothing lost, resumable.
    try:
      rundir.write_exit(logdir, cli.EXIT_STORAGE, str(e).splitlines()[0], training.episodes_on_disk(logdir), total)
    except OSError:  # Still full: the one line below says it all.
      pass
    cli.fail_storage(e)
  except rundir.RunDirError as e:
    cli.fail(e)
  except training.SetupError as e:
    finish(cli.EXIT_BAD_INPUT, str(e).splitlines()[0])
  except training.TrainingDiverged as e:
    finish(cli.EXIT_DIVERGED, str(e).splitlines()[0])
  except Exception as e:  # A crash: keep the traceback, and say so in exit.json (the sweep retries crashes).
    rundir.write_exit(logdir, cli.EXIT_CRASH, f'{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ""}',
                      training.episodes_on_disk(logdir), total)
    raise
  finish(cli.EXIT_OK, 'complete')
  episodes = records[-1].get('all_episodes', len(records)) if records else 0
  logging.info('run complete: %d episodes in %s (python scripts/plot.py --collect %s copies its results)',
               episodes, logdir, logdir)


if __name__ == '__main__':
  main()
