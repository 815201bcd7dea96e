"""A run directory: its layout, atomic writes (temporary name, then rename), JSON lines, collecting it into
results/, its exit record and a lock that keeps a second writer out (the experiment it holds: run_identity.py)."""
import errno
import fcntl
import json
import logging
import os
import re
import socket
import time
import uuid


class RunDir:
  """The layout of a run directory: one place knows where each of its files lives (scripts/train.py writes them,
  the sweep, the evaluation and results/ read them), and how many episodes it holds.

      config.gin, operative_config.gin, experiment.json   the configuration given, used, and its bindings
      command.txt, metrics.jsonl, exit.json, .lock         the starts, a line per episode, the last end, the writer
      train_episodes/, test_episodes/, checkpoints/        episodes (one .npz each), model and optimizer
      tensorboard/, videos/, eval.json, analysis/          scalars, GIFs, evaluation scores, Fig. 10/11 views
      sweep.log                                            the output of a run scripts/sweep.py started
  """

  FILES = dict(config='config.gin', operative_config='operative_config.gin', experiment='experiment.json',
               command='command.txt', metrics='metrics.jsonl', exit_record='exit.json', lock='.lock',
               train_episodes='train_episodes', test_episodes='test_episodes', checkpoints='checkpoints',
               tensorboard='tensorboard', videos='videos', eval_record='eval.json', analysis='analysis',
               curve='curve.png', run_record='run.json', sweep_log='sweep.log')

  def __init__(self, path):
    self.path = str(path)

  def __getattr__(self, name):
    if name in RunDir.FILES:
      return os.path.join(self.path, RunDir.FILES[name])
    raise AttributeError(name)

  def episodes_done(self):
    """Training episodes on disk (all tasks together): the count a run resumes from."""
    return len(list_episodes(self.train_episodes))


# An episode file: <index>-<steps>.npz (planet.replay writes them).
EPISODE_FILE = re.compile(r'^(\d+)-(\d+)\.npz$')


def list_episodes(directory):
  """Paths of the episode files in `directory`, ordered by index."""
  if not os.path.isdir(directory):
    return []
  return [os.path.join(directory, name) for name in sorted(os.listdir(directory)) if EPISODE_FILE.match(name)]


def write_atomically(path, data):
  """Writes `data` (str or bytes) to `path` via a temporary file in the same directory and a rename, so a reader
  (or a resume after a kill) sees either the old file or the whole new one."""
  directory = os.path.dirname(path) or '.'
  os.makedirs(directory, exist_ok=True)
  tmp = os.path.join(directory, f'.{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp')
  with open(tmp, 'wb' if isinstance(data, bytes) else 'w') as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)
  return path


def read_jsonl(path):
  """The JSON objects of a .jsonl file, one per non-empty line; [] when the file does not exist. A last line cut
  short by a kill is skipped with a warning."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    lines = [line for line in f if line.strip()]
  records = []
  for number, line in enumerate(lines):
    try:
      records.append(json.loads(line))
    except json.JSONDecodeError:
      if number < len(lines) - 1:
        raise
      logging.warning('%s: skipping an incomplete last line (the writer was stopped mid-line)', path)
  return records


def last_per_episode(records):
  """Metrics records with one line per (task, episodes): a line written again for an episode redone after a kill
  replaces the earlier one in place."""
  kept, where = [], {}
  for record in records:
    key = (record.get('task'), record.get('episodes'))
    if 'episodes' in record and key in where:
      kept[where[key]] = record
    else:
      where[key] = len(kept)
      kept.append(record)
  return kept


def append_jsonl(path, record):
  """Appends one JSON object as a line (one writer per file: see the run-directory lock)."""
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  with open(path, 'a+b') as f:
    f.seek(0, os.SEEK_END)
    if f.tell():
      f.seek(-1, os.SEEK_END)
      if f.read(1) != b'\n':  # A line cut short by a kill: end it, so it stays one (skipped) line.
        f.write(b'\n')
    f.write((json.dumps(record) + '\n').encode())


# The small files of a finished run that results/ keeps (no episodes, no checkpoints).
SMALL_FILES = ('metrics.jsonl', 'operative_config.gin', 'config.gin', 'experiment.json', 'command.txt', 'eval.json')
# scripts/train.py's command.txt line: '<date> <time> on <host> (<machine>), commit <hash>: python ...'.
_COMMAND_LINE = re.compile(r'^(\S+ \S+)(?: UTC)? on (\S+) \((.+?)\)(?:, commit (\w+))?: (python.*)$')


def run_record(logdir, task, config, seed):
  """What results/ keeps of where and how a run ran (run.json): its name, the commands that started or resumed
  it, the machine and commit of the last one (as scripts/train.py wrote them into command.txt), and whether its
  configuration was recorded (config.gin)."""
  lines = []
  layout = RunDir(logdir)
  if os.path.exists(layout.command):
    with open(layout.command) as f:
      lines = [line.strip() for line in f if line.strip()]
  starts = [match.groups() for match in map(_COMMAND_LINE.match, lines) if match]
  last = starts[-1] if starts else (None,) * 5
  return dict(task=task, config=config, seed=seed, machine=last[2], commit=last[3], commands=lines,
              settings='recorded' if os.path.exists(layout.config) else 'unknown',
              collected=time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()))


def collect_run(logdir, results_root, task=None, config=None, seed=None):
  """Copies a run directory's small files (SMALL_FILES and analysis/*.json) into results/<task>/<config>/seed<N>/
  and writes its run.json; returns the target. task/config/seed default to the run directory's own
  logs/<task>/<config>/seed<N> names (the names scripts/train.py gave it: overlays and bindings included), so a run
  is collected under what it ran."""
  parts = os.path.normpath(os.path.abspath(logdir)).split(os.sep)
  match = re.match(r'^seed(\d+)$', parts[-1])
  seed = seed if seed is not None else (int(match.group(1)) if match else 0)
  config = config or parts[-2]
  task = task or parts[-3]
  if not os.path.exists(RunDir(logdir).metrics):
    raise FileNotFoundError(f'{logdir} has no metrics.jsonl: is it a run directory?')
  target = os.path.join(results_root, task, config, f'seed{seed}')
  os.makedirs(target, exist_ok=True)
  names = list(SMALL_FILES)
  analysis = RunDir(logdir).analysis  # Evaluations with other settings, the planner's predictions: small JSON.
  if os.path.isdir(analysis):
    names += [os.path.join('analysis', name) for name in sorted(os.listdir(analysis)) if name.endswith('.json')]
  for name in names:
    source = os.path.join(logdir, name)
    if os.path.isfile(source):
      write_atomically(os.path.join(target, name), open_bytes(source))  # Creates analysis/ where needed.
  write_atomically(RunDir(target).run_record, json.dumps(run_record(logdir, task, config, seed), indent=1))
  return target


def open_bytes(path):
  with open(path, 'rb') as f:
    return f.read()


# --- Errors, exit records and the lock that keeps one writer per run directory.

class RunDirError(RuntimeError):
  """A run directory that cannot be used as asked (another experiment, not a directory, cannot be created)."""


class RunDirBusy(RunDirError):
  """Another process holds the run directory's lock: `path` is the directory, or the one file, that it locks, and
  `owner` says which process holds it ('pid N on <host>')."""

  def __init__(self, message, path=None, owner=None):
    super().__init__(message)
    self.path, self.owner = path, owner


class StorageError(RunDirError):
  """The run directory cannot be written (a full disk, a read-only or vanished file system): nothing is lost, and
  the same command resumes once the cause is gone."""


# OS errors that are the storage's, not the program's: a full disk or quota, a read-only or failing file system.
STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)


def storage_error(error, path=None):
  """StorageError for an OSError of STORAGE_ERRNOS (one line naming the path), else None."""
  if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
    return StorageError(f'cannot write {error.filename or path} ({error.strerror})')
  return None


class Lock:
  """An exclusive lock on a run directory (fcntl on <logdir>/.lock), held until `release` or process exit.
  `name` locks another file of the directory instead (one true-simulator episode: '<job>.json.lock')."""

  def __init__(self, logdir, name='.lock'):
    self.path = os.path.join(logdir, name)
    self._file = open(self.path, 'a+')  # pylint: disable=consider-using-with
    try:
      fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
      self._file.seek(0)
      owner = self._file.read().strip() or 'another process'
      self._file.close()
      if name != '.lock':
        played = self.path[:-len('.lock')]
        raise RunDirBusy(f'{played} is being played by {owner}; wait for it to finish or stop it', played,
                         owner) from e
      raise RunDirBusy(f'{logdir} is in use by {owner}; wait for it to finish or stop it, or use another '
                        '--logdir', logdir, owner) from e
    self._file.seek(0)
    self._file.truncate()
    self._file.write(f'pid {os.getpid()} on {socket.gethostname()}')
    self._file.flush()

  def release(self, remove=False):
    """`remove`: delete the lock's file first, still holding it (a finished job leaves none behind), unless its path
    has become another file since this one was opened (whose owner holds it)."""
    if self._file.closed:
      return
    if remove:
      try:
        if os.path.samestat(os.stat(self.path), os.fstat(self._file.fileno())):
          os.remove(self.path)
      except FileNotFoundError:
        pass
    fcntl.flock(self._file, fcntl.LOCK_UN)
    self._file.close()


def write_exit(logdir, code, reason, episodes, total_episodes):
  """<logdir>/exit.json: how scripts/train.py last ended (scripts/sweep.py's --status and skip rule read it)."""
  write_atomically(RunDir(logdir).exit_record, json.dumps(
      dict(code=code, reason=reason, episodes=episodes, total_episodes=total_episodes, time=time.time())))


def read_exit(logdir):
  """The last exit.json of a run directory, or None."""
  path = RunDir(logdir).exit_record
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def is_locked(logdir, name='.lock'):
  """Whether a process holds the run directory's lock (or its file `name`'s) right now, i.e. the run is running."""
  path = os.path.join(logdir, name)
  if not os.path.exists(path):
    return False
  with open(path, 'a+') as f:
    try:
      fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
      return True
    fcntl.flock(f, fcntl.LOCK_UN)
  return False


def prepare(logdir):
  """Creates the run directory (RunDirError with the reason when it cannot be) and returns its Lock."""
  if os.path.exists(logdir) and not os.path.isdir(logdir):
    raise RunDirError(f'the run directory {logdir} is a file; give another --logdir')
  try:
    os.makedirs(logdir, exist_ok=True)
  except OSError as e:
    raise RunDirError(f'cannot create the run directory {logdir} ({e.strerror}); give another --logdir') from e
  return Lock(logdir)
