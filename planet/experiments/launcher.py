"""Running runs: each run is `scripts/train.py` or `scripts/true_sim.py` as a subprocess of one Ray task
(planet.experiments.processes), so that TensorFlow and the renderer never load in the driver or the Ray workers. The
launcher keeps no state of its own (planet.experiments.state reads it from the run directories): rerunning the same
command starts only what is unfinished, and resumed runs continue from their checkpoints. Ray is imported by
`launch` only."""
import collections
import json
import logging
import os
import signal
import sys
import threading
import time

from tqdm import tqdm
from tqdm.contrib import logging as tqdm_logging

from planet import cli
from planet import rundir
from planet.experiments import processes
from planet.experiments import state


def merge_true_sim(results):
  """Appends finished per-job true-simulator records to results/true_sim/<task>.jsonl (the driver alone writes
  there) and removes the job files. Returns the number merged."""
  jobs = os.path.join(results, 'true_sim', 'jobs')
  merged = 0
  if not os.path.isdir(jobs):
    return 0
  for task in sorted(os.listdir(jobs)):
    for name in sorted(os.listdir(os.path.join(jobs, task))):
      if name.endswith('.json'):
        path = os.path.join(jobs, task, name)
        with open(path) as f:
          record = json.load(f)
        rundir.append_jsonl(os.path.join(results, 'true_sim', f'{task}.jsonl'), record)
        os.remove(path)
        merged += 1
  return merged


def collect(selected, results='results'):
  """Copies the small files of every finished training run into results/ (the layout scripts/plot.py reads)."""
  copied = []
  for run in selected:
    if run.kind == 'train' and state.status(run, results)[0] == 'done':
      copied.append(rundir.collect_run(run.path, results, task=run.task, config=run.config, seed=run.seed))
  return copied


class RayStartError(RuntimeError):
  """Ray could not start (or join its cluster): no run was started."""


def to_start(selected, states):
  """The runs of `selected` to start by their `states` ({run: state.status}): those with work on disk ('partial')
  first, which counts only once they finish, then the others unfinished, each group in the matrix's order."""
  todo = [run for run in selected if states[run] in ('not started', 'partial', 'failed')]
  return sorted(todo, key=lambda run: states[run] != 'partial')


def launch(selected, cpus=1, gpus=0.0, memory_gb=None, retries=2, address=None, results='results', threads=None,
           ray_init=None, bar=None):
  """Runs every unfinished run as one Ray task (embedded single-machine Ray by default; `address='auto'` joins a
  cluster started with `ray start`). Crashes and lost workers are retried up to `retries` times; other exits are
  reported. While runs go on, their episodes are counted every state.PROGRESS_SECONDS: a progress bar with `bar`
  (default: when stderr is a terminal), else a log line every state.PROGRESS_LOG_SECONDS. Returns {run name: (exit
  code, last line)} of the runs started."""
  import ray  # pylint: disable=import-outside-toplevel  # Only the launcher needs Ray (an optional extra).
  states = {run: state.status(run, results)[0] for run in selected}
  todo = to_start(selected, states)
  # Runs another process holds (another sweep, or the runs of a driver killed with SIGKILL, still ending): never a
  # second writer; they are waited for, and started here if they stop unfinished.
  waiting = [run for run in selected if states[run] == 'running']
  if waiting:
    logging.warning('waiting for %d run(s) another process is running: %s', len(waiting),
                    ', '.join(run.name for run in waiting[:5]))
  if not todo and not waiting:
    logging.info('nothing to start: every selected run is done')
    return {}
  if not ray.is_initialized():  # 'local': a new embedded instance, never another sweep's by accident.
    try:
      ray.init(address=address or 'local', **(ray_init or {}))
    except Exception as e:  # Ray raises bare Exceptions too (its local node timing out on a busy machine).
      where = f'join the Ray cluster at {address}' if address else 'start a local Ray instance'
      first = (str(e).splitlines() or [type(e).__name__])[0]
      raise RayStartError(f'could not {where}: {first}; nothing was started: rerun the same command (finished runs '
                          'are kept, partial ones resume)') from e
  submit = _submitter(ray, cpus, gpus, memory_gb, threads)
  pending = {submit(run): run for run in todo}
  # ray.init made SIGTERM a bare exit: both it and Ctrl-C now stop the runs below, and the caller's handlers return.
  handlers = {}
  if threading.current_thread() is threading.main_thread():  # Only the main thread may set handlers.
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    cli.stop_on_signals()
  watch = _ProgressWatch(selected, results, sys.stderr.isatty() if bar is None else bar)
  try:
    return _until_all_end(ray, submit, pending, waiting, watch, results, retries)
  except KeyboardInterrupt:
    # A cancel raises KeyboardInterrupt in each running task, which then sends SIGTERM to its run and waits for it:
    # scripts/train.py and scripts/true_sim.py stop on it with their progress saved (exit 130).
    logging.warning('stopping %d run(s): %s', len(pending), ', '.join(sorted(run.name for run in pending.values())))
    for ref in pending:
      ray.cancel(ref)
    ray.wait(list(pending), num_returns=len(pending), timeout=processes.STOP_SECONDS + 10)
    ray.shutdown()
    raise
  finally:
    watch.close()
    for sig, handler in handlers.items():
      signal.signal(sig, handler)


def _submitter(ray, cpus, gpus, memory_gb, threads):
  """A function that starts one run as a Ray task with the sweep's resources and returns its object reference."""
  options = dict(num_cpus=cpus, num_gpus=gpus, max_retries=0)
  if memory_gb:
    options['memory'] = int(memory_gb * 1024 ** 3)

  @ray.remote
  def task(run):
    return processes.execute(run, cpus, ray.get_gpu_ids(), threads)

  return lambda run: task.options(**options).remote(run)


def _until_all_end(ray, submit, pending, waiting, watch, results, retries):
  """Waits for the `pending` Ray tasks ({reference: run}, updated in place, so a caller stopping them sees what is
  still running) and the `waiting` runs of other processes (submitted once they stop unfinished), retrying crashes.
  Returns {run name: (exit code, last line)}."""
  attempts, outcomes = collections.Counter(), {}
  while pending or waiting:
    watch.update()
    for run in list(waiting):
      now = state.status(run, results)[0]
      if now != 'running':  # Its other process ended: done, or to be continued here.
        waiting.remove(run)
        if now != 'done':
          pending[submit(run)] = run
    if not pending:
      time.sleep(1.0)
      continue
    # A wait with a timeout: a blocking one holds off Ctrl-C and SIGTERM until some run ends (hours).
    done, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
    if not done:
      continue
    run = pending.pop(done[0])
    watch.update(force=True)
    attempts[run.name] += 1
    try:
      code, line = ray.get(done[0])
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.RayTaskError) as e:
      code, line = cli.EXIT_CRASH, f'lost worker: {type(e).__name__}'
    outcomes[run.name] = (code, line)
    if processes.retriable(code) and attempts[run.name] <= retries:
      logging.warning('%s crashed (exit %d: %s); retry %d of %d', run.name, code, line, attempts[run.name], retries)
      pending[submit(run)] = run
    else:
      logging.info('%s: exit %d %s', run.name, code, line if code else '')
  return outcomes


class _ProgressWatch:
  """The launcher's progress: `update()` recounts the runs' episodes every state.PROGRESS_SECONDS into a tqdm bar (its
  time left is at the pace since the sweep started), or without a bar logs `progress_line` every
  state.PROGRESS_LOG_SECONDS; log lines in between are printed above the bar."""

  def __init__(self, selected, results, bar):
    self.selected, self.results = selected, results
    self.start = state.progress(selected, results)
    self.kind = 'train' if 'train' in self.start else 'truesim'
    self.started = self.counted = time.monotonic()
    self.bar = self.redirect = None
    if bar and self.kind in self.start:
      done, planned = self.start[self.kind]
      self.bar = tqdm(total=planned, initial=done, unit='episode', dynamic_ncols=True, smoothing=0,
                      desc='training episodes' if self.kind == 'train' else 'true-simulator episodes')
      self.redirect = tqdm_logging.logging_redirect_tqdm()
      self.redirect.__enter__()

  def update(self, force=False):
    """Recounts once its interval has passed; a bar also at once with `force` (a run ended, or the sweep)."""
    now = time.monotonic()
    interval = state.PROGRESS_SECONDS if self.bar else state.PROGRESS_LOG_SECONDS
    if not (force and self.bar) and now - self.counted < interval:
      return
    self.counted = now
    if self.bar:  # Only the kind it draws.
      self.bar.n = state.progress([run for run in self.selected if run.kind == self.kind], self.results)[self.kind][0]
      self.bar.refresh()
    else:
      counts = state.progress(self.selected, self.results)
      logging.info('progress: %s', state.progress_line(counts, self.start, now - self.started))

  def close(self):
    if self.bar:
      self.update(force=True)
      self.redirect.__exit__(None, None, None)
      self.bar.close()
