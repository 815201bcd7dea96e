"""What scripts/sweep.py does in each of its modes, once it has selected the runs: check them (--dry_run), time how
many share a GPU (--measure_sharing), or start the unfinished ones and collect the finished ones into results/. Each
ends the process with one line and planet.cli's exit code where it fails, as scripts/train.py's runs do."""
import json
import logging
import sys

from planet import cli
from planet import rundir
from planet.experiments import estimates
from planet.experiments import launcher
from planet.experiments import matrix
from planet.experiments import sharing
from planet.experiments import state


def run_lines(selected, states):
  """The --dry_run listing: each run's name, state (`states`, planet.experiments.state's, in the same order) and
  directory, then how many are done already (their directories, or records merged into results/ by an earlier
  sweep, perhaps on another machine)."""
  lines = [f'{run.name:<48} {st:<11} {run.path}' for run, st in zip(selected, states)]
  done = states.count('done')
  lines.append(f'{done} of {len(selected)} already done; the same command without --dry_run starts the other '
               f'{len(selected) - done}')
  return lines


def dry_run(selected, gpus, results):
  """Prints each run's state and directory and what the selection costs, then checks that every configuration
  parses."""
  states = [state.status(run, results)[0] for run in selected]
  print('\n'.join(run_lines(selected, states)))
  done = {run for run, st in zip(selected, states) if st == 'done'}
  print(estimates.plan_summary(selected, gpus or 1, done, results))
  errors = matrix.run_configuration_errors(selected)
  for name, error in errors:
    print(f'{name}: {error}')
  if errors:
    cli.fail(f'{len(errors)} configuration(s) do not parse (listed above)')
  print('every configuration parses')


def measure_sharing(selected, counts, seconds, cpus, gpu, timed_episodes, out=None):
  """Times the first selected run's configuration at `counts` ('1,2,4') runs at once; prints the table and the JSON
  record, and appends the record to `out` when given."""
  cli.stop_on_signals()
  try:
    record = sharing.measure_sharing(*sharing.sharing_selection(selected, counts), seconds, cpus, gpu,
                                     progress=sys.stderr.isatty(), timed_episodes=timed_episodes)
  except ValueError as e:
    cli.fail(e)
  except RuntimeError as e:
    cli.fail(e, cli.EXIT_CRASH)
  except KeyboardInterrupt:
    print('stopped: the runs were stopped and their temporary directories removed', file=sys.stderr)
    sys.exit(cli.EXIT_INTERRUPTED)
  print(sharing.sharing_table(record))
  print(json.dumps(record))
  if out:
    rundir.append_jsonl(out, record)


def sweep(selected, cpus, gpus, memory_gb, retries, address, results):
  """Starts the unfinished runs (Ray), then merges the true-simulator records and collects the finished runs into
  `results`, even after Ctrl-C; prints every run's state. Exits non-zero if a run failed or the sweep was stopped."""
  cli.stop_on_signals()  # Also while Ray starts (launcher.launch keeps it so afterwards).
  stopped = False
  try:
    outcomes = launcher.launch(selected, cpus, gpus, memory_gb, retries, address, results, threads=max(1, int(cpus)))
  except KeyboardInterrupt:
    outcomes, stopped = {}, True
  except launcher.RayStartError as e:
    cli.fail(e, cli.EXIT_CRASH)
  try:
    merged = launcher.merge_true_sim(results)
    copied = launcher.collect(selected, results)
  except OSError as e:  # A full disk while collecting: the run directories are intact, the same command collects.
    cli.fail_on_storage(e)
  failed = sorted(name for name, outcome in outcomes.items() if outcome[0] != cli.EXIT_OK)
  logging.info('%d run(s) started, %d failed; %d true-simulator record(s) merged, %d run(s) collected into %s',
               len(outcomes), len(failed), merged, len(copied), results)
  print(state.status_table(selected, results))
  if stopped:
    print('stopped: the running runs were told to stop and save their progress; the same command resumes them',
          file=sys.stderr)
    sys.exit(cli.EXIT_INTERRUPTED)
  if failed:
    cli.fail(f"{len(failed)} run(s) did not finish: {', '.join(failed)} (see each run's sweep.log)", cli.EXIT_CRASH)
