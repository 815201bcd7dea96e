"""A run's state, read from its run directory alone (exit.json, the lock, the episodes on disk), and a sweep's
progress: episodes on disk against episodes planned, whichever process wrote them."""
import ast
import collections
import json
import os

from planet import cli
from planet import gin_text
from planet import rundir
from planet import tasks as tasks_lib
from planet.experiments import matrix


def _merged_true_sim_done(run, results):
  """Whether results/true_sim/<task>.jsonl already holds this episode (earlier runs, before per-job files)."""
  records = matrix.cem_variant(rundir.read_jsonl(os.path.join(results, 'true_sim', f'{run.task}.jsonl')), run.variant)
  return any(tuple(r['settings']) == run.setting and r['episode'] == run.seed for r in records)


def status(run, results='results'):
  """(state, detail): state is 'not started', 'running', 'partial', 'done' or 'failed'."""
  if run.kind == 'truesim':
    if os.path.exists(run.path) or _merged_true_sim_done(run, results):
      return 'done', ''
    running = rundir.is_locked(os.path.dirname(run.path), os.path.basename(run.path) + '.lock')
    try:  # Its progress (planet.experiments.true_sim saves it after every step).
      with open(run.path + '.partial') as f:
        saved = json.load(f)
      steps = f"{len(saved['actions'])} of {saved['steps']} steps"
    except (OSError, ValueError, KeyError):
      steps = ''
    return ('running', steps) if running else ('partial', steps) if steps else ('not started', '')
  if not os.path.isdir(run.path):
    return 'not started', ''
  episodes = rundir.RunDir(run.path).episodes_done()
  if rundir.is_locked(run.path):
    return 'running', f'{episodes} episodes'
  ended = rundir.read_exit(run.path)
  if ended and ended['code'] == cli.EXIT_OK and episodes >= ended['total_episodes']:
    return 'done', f"{episodes} episodes"
  if ended and ended['code'] not in (cli.EXIT_OK, cli.EXIT_INTERRUPTED):
    return 'failed', f"exit {ended['code']}: {ended['reason']}"
  if episodes:
    total = f" of {ended['total_episodes']}" if ended else ''
    return 'partial', f'{episodes}{total} episodes'
  return 'not started', ''


def status_table(selected, results='results'):
  """The --status table as text: one line per run, then counts per state and the episodes done of planned."""
  lines, counts = [], collections.Counter()
  width = max([len(run.name) for run in selected] + [10])
  for run in selected:
    state, detail = status(run, results)
    counts[state] += 1
    lines.append(f'{run.name:<{width}}  {state:<11}  {detail}')
  lines.append(', '.join(f'{counts[state]} {state}' for state in
                         ('done', 'running', 'partial', 'failed', 'not started') if counts[state]) +
               f' ({len(selected)} runs)')
  lines.append(progress_line(progress(selected, results)))
  return '\n'.join(lines)


# --- Progress of a sweep: episodes on disk against episodes planned, recounted from the run directories, so it is
# the same whichever process (or sweep) wrote them. A long sweep shows it as a bar in a terminal, else as a log line.
PROGRESS_SECONDS = 30  # How often a running sweep recounts its runs' episodes.
PROGRESS_LOG_SECONDS = 1800  # Without a terminal, how often it logs the count as a line instead of drawing a bar.


def planned_episodes(gin_files):
  """Episodes a training run with these gin files has when complete, all its tasks together (as scripts/train.py
  counts them), read from the files' text without TensorFlow; None if they do not say."""
  found = gin_text.files_bindings(gin_files)
  try:
    total = int(found['train.total_episodes'])
    tasks = ast.literal_eval(found.get('train.multitask_tasks', 'None')) or tasks_lib.names()
  except (KeyError, ValueError, SyntaxError):  # Unbound, or a macro or expression that only gin can read.
    return None
  return total * (len(tasks) if ast.literal_eval(found.get('train.task', 'None')) == 'multitask' else 1)


def progress(selected, results='results'):
  """{'train': (episodes on disk, planned), 'truesim': (episodes done, planned)} over the selected runs, a kind only
  where there are runs of it. A training run counts at most its planned episodes (its exit.json's count where the
  gin files do not say)."""
  counts = {}
  for run in selected:
    if run.kind == 'truesim':
      done, planned = int(status(run, results)[0] == 'done'), 1
    else:
      done = rundir.RunDir(run.path).episodes_done()
      planned = planned_episodes(run.gin_files) or (rundir.read_exit(run.path) or {}).get('total_episodes')
      planned = planned or done
      done = min(done, planned)
    before = counts.get(run.kind, (0, 0))
    counts[run.kind] = (before[0] + done, before[1] + planned)
  return counts


def progress_line(counts, start=None, seconds=None):
  """The counts of `progress` as one line; with the counts at the sweep's start and the seconds since, also the time
  left at that pace (training episodes where there are any: they take the GPU-hours)."""
  names = {'train': 'training episodes', 'truesim': 'true-simulator episodes'}
  line = '; '.join(f'{done:,} of {planned:,} {names[kind]} ({100 * done / max(planned, 1):.1f}%)'
                   for kind, (done, planned) in counts.items())
  kind = 'train' if 'train' in counts else 'truesim'
  gained = counts.get(kind, (0, 0))[0] - (start or {}).get(kind, (0, 0))[0]
  if seconds and gained > 0:
    left = (counts[kind][1] - counts[kind][0]) * seconds / gained
    line += f'; about {left / 3600:.1f} h left at the pace since the sweep started'
  return line
