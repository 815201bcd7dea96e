"""One training run as scripts/train.py starts it: the lines it logs before training (the machine, and on a CPU how
long an episode will take), the command it records in the run directory, and one exit code and exit record
(exit.json, which scripts/sweep.py reads) for each way the run can end (planet.cli's codes)."""
import logging
import os
import platform
import shlex
import sys
import time

import gin

from planet import cli
from planet import config as config_lib
from planet import machine
from planet import networks
from planet import rundir
from planet import training
from planet import updates

CPU_HINT_MINUTES = 5  # On a CPU, an episode expected to take longer than this gets the hint towards gin/quick.gin.


def planned_episodes():
  """Episodes of the parsed configuration once complete, all its tasks together."""
  tasks = training.task_list(config_lib.query('train.task'), config_lib.query('train.multitask_tasks', None))
  return config_lib.query('train.total_episodes') * len(tasks)


def is_complete(logdir, total):
  """Whether `logdir` already holds `total` episodes (then says so, with how to collect it)."""
  if os.path.isdir(logdir) and training.episodes_on_disk(logdir) >= total:
    logging.info('%s is complete (%d episodes); nothing to do. python scripts/plot.py --collect %s copies its '
                 'results', logdir, total, logdir)
    return True
  return False


def log_machine(tf, cpu_episode_minutes):
  """Logs the GPU line, or on a CPU the expected minutes an episode (`cpu_episode_minutes()`, None when unknown)
  where they are many; returns the machine's description."""
  gpu_line = machine.gpu_report(tf, config_lib.query('Learner.jit_compile'))
  if gpu_line:
    logging.info(gpu_line)
    return gpu_line.split(';')[0]
  minutes = cpu_episode_minutes()
  if minutes and minutes > CPU_HINT_MINUTES:
    logging.info('no GPU: with these settings an episode takes about %.0f minutes on this CPU (scaled from the '
                 "benchmark records in results/benchmarks/), so the paper's 1000 episodes take days; for a CPU "
                 'learning curve add --gin_file=gin/quick.gin, for a GPU see docs/gpu.md', minutes)
  units = machine.bfloat16_units()
  if units and config_lib.query('Encoder.precision', 'float32') != 'bfloat16':
    logging.info('this CPU computes bfloat16 in hardware (%s): --gin_file=gin/mixed_precision.gin runs the convs in '
                 'bfloat16 for a faster train step (measured in docs/performance.md; not the paper\'s float32)',
                 units)
  return machine.cpu_description()


def bind_precision(bfloat16_units=None, gpus=None):
  """Binds what an 'auto' precision of the convs resolves to on this machine (`networks.resolve_precision`; the
  CPU's bfloat16 units and the visible GPUs can be given, for tests), so that config.gin and experiment.json record
  the precision the steps computed in. Returns the line that says it, or None where everything is float32 as bound."""
  bound = {key: config_lib.query(key, 'float32') for key in config_lib.AUTO_PRECISION}
  if set(bound.values()) == {'float32'}:
    return None
  units = machine.bfloat16_units() if bfloat16_units is None else bfloat16_units
  gpus = networks.visible_gpus() if gpus is None else gpus
  resolved = {key: networks.resolve_precision(value, units, gpus) for key, value in bound.items()}
  for key, value in bound.items():
    if value == networks.AUTO:
      gin.bind_parameter(key, resolved[key])
  shown = ', '.join(f'{key} = {resolved[key]!r}' for key in config_lib.AUTO_PRECISION)
  if networks.AUTO not in bound.values():
    return f"precision: {shown} (as bound; the paper's is float32)"
  why = ('a GPU is visible' if gpus else f'this CPU computes bfloat16 in hardware ({units})' if units
         else 'this CPU has no bfloat16 units')
  return f"precision: {shown} ('auto', {why}; --gin_file=gin/float32.gin for float32 throughout)"


def command_record(host, argv):
  """The line command.txt gets: when, where (host, machine, commit) and the command."""
  return (f"{time.strftime('%Y-%m-%d %H:%M:%S')} on {platform.node()} ({host}), commit "
          f"{machine.commit() or 'unknown'}: python {' '.join(shlex.quote(a) for a in argv)}")


def _record_exit(logdir, total, code, reason):
  """exit.json with the episodes on disk; where the disk is full it stays as it was (the one line the process ends
  with still says what happened)."""
  try:
    rundir.write_exit(logdir, code, reason, training.episodes_on_disk(logdir), total)
  except OSError:
    pass


def _finish(logdir, total, code, reason):
  """exit.json, then the process's end for every code but EXIT_OK (one line on stderr where it failed)."""
  _record_exit(logdir, total, code, reason)
  if code == cli.EXIT_INTERRUPTED:
    sys.exit(code)
  if code:
    cli.fail(reason, code)


def train_to_exit(logdir, total, progress, command):
  """Trains the parsed configuration in `logdir` to its end and returns its metrics records; every other ending
  exits the process with its code: interrupted (resumable), run directory busy or unusable, storage full
  (resumable), bad setup, diverged loss, or a crash (re-raised, with its traceback, after exit.json says so)."""
  cli.stop_on_signals()  # Ctrl-C and a scheduler's SIGTERM: stop cleanly between episodes.
  first_line = lambda e: (str(e).splitlines() or [''])[0]
  try:
    records = training.train(logdir, progress=progress, command=command)
  except KeyboardInterrupt:
    print(f'stopped at episode {training.episodes_on_disk(logdir)} of {total} in {logdir}; rerun the same command '
          'to resume', file=sys.stderr)
    _finish(logdir, total, cli.EXIT_INTERRUPTED, 'interrupted')
  except rundir.RunDirBusy as e:  # Another run's directory: no exit record of ours goes into it.
    cli.fail(e, cli.EXIT_BUSY)
  except rundir.StorageError as e:  # A full disk or a file system gone: stopped, nothing lost, resumable.
    _record_exit(logdir, total, cli.EXIT_STORAGE, first_line(e))
    cli.fail_storage(e)
  except rundir.RunDirError as e:
    cli.fail(e)
  except training.SetupError as e:
    _finish(logdir, total, cli.EXIT_BAD_INPUT, first_line(e))
  except updates.TrainingDiverged as e:
    _finish(logdir, total, cli.EXIT_DIVERGED, first_line(e))
  except Exception as e:  # A crash: keep the traceback, and say so in exit.json (the sweep retries crashes).
    rundir.write_exit(logdir, cli.EXIT_CRASH, f'{type(e).__name__}: {first_line(e)}',
                      training.episodes_on_disk(logdir), total)
    raise
  _finish(logdir, total, cli.EXIT_OK, 'complete')
  return records
