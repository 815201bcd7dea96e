"""What the scripts share as command lines: their exit codes, one-line failures, and stopping cleanly on Ctrl-C or
SIGTERM. Configuration is planet.config."""
import signal
import sys

from planet import rundir

# Exit codes of scripts/train.py (and the other scripts), which scripts/sweep.py acts on: only a crash is retried.
EXIT_OK = 0
EXIT_CRASH = 1  # An unexpected exception (Python's own code for an uncaught one).
EXIT_BAD_INPUT = 2  # Bad configuration or command line (argparse's code too); nothing was started.
EXIT_DIVERGED = 3  # The loss became NaN/inf; the last good checkpoint is kept.
EXIT_BUSY = 4  # Another process holds the run directory's lock.
EXIT_STORAGE = 5  # The run directory cannot be written (a full disk): stopped, nothing lost, resumable.
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM: stopped cleanly between episodes, resumable (128 + SIGINT).


def fail(error, code=EXIT_BAD_INPUT):
  """Ends a script with one line on stderr. gin appends "In call to configurable ..." lines to errors raised
  inside a configurable: the first line says what went wrong."""
  print(f'error: {(str(error).splitlines() or [type(error).__name__])[0]}', file=sys.stderr)
  sys.exit(code)


def fail_on_storage(error):
  """Ends a script with fail_storage where `error` (an OSError) is the storage's (rundir.storage_error); re-raises
  any other."""
  storage = rundir.storage_error(error)
  if storage is None:
    raise error
  fail_storage(storage)


def fail_storage(error):
  """Ends a script whose files cannot be written (rundir.StorageError: a full disk) with one line and
  EXIT_STORAGE: nothing was lost, and the same command resumes once space is free."""
  fail(f'{(str(error).splitlines() or ["storage error"])[0]}; free space (or fix the file system) and rerun the same '
       'command to resume', EXIT_STORAGE)


def _raise_interrupt(signum, frame):
  del signum, frame
  raise KeyboardInterrupt


def stop_on_signals():
  """Ctrl-C (SIGINT) and SIGTERM (a scheduler's or Ray's stop) both stop a run cleanly between episodes. Installed
  for SIGINT too because a process started in the background by a script (`cmd &` without job control) inherits
  SIGINT as ignored, which Python keeps: `kill -INT` would then only work while an episode is being saved."""
  for sig in (signal.SIGINT, signal.SIGTERM):
    signal.signal(sig, _raise_interrupt)
