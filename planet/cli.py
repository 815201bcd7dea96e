"""gin set-up shared by the scripts: parse files and bindings with clear errors, choose the run directory.

gin files import the modules whose configurables they bind (`import planet.training` in gin/base.gin, `import
planet.models.ssm` in gin/ablations/ssm.gin), so a new model needs no list here.
"""
import functools
import os

import gin

from planet import tasks as tasks_lib


class ConfigError(ValueError):
  pass


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def resolve(path):
  """A gin file path as given, or relative to the repository root (so scripts run from any directory)."""
  if os.path.exists(path):
    return path
  candidate = os.path.join(REPO_ROOT, path)
  if os.path.exists(candidate):
    return candidate
  raise ConfigError(f'gin file {path!r} not found (give a path relative to the repository root or a full path)')


@functools.lru_cache(maxsize=None)
def _add_search_path():
  """`include 'gin/base.gin'` lines resolve against the repository root too (added once per process)."""
  gin.add_config_file_search_path(REPO_ROOT)


def parse(gin_files, gin_params):
  gin_files = [resolve(path) for path in gin_files]
  gin.clear_config()
  _add_search_path()
  try:
    gin.parse_config_files_and_bindings(gin_files, gin_params, finalize_config=False)
  except (ValueError, KeyError, SyntaxError) as e:
    first = str(e).strip().splitlines()[0]
    raise ConfigError(f'bad gin configuration: {first} (check the spelling against the gin files in gin/)') \
        from e
  except ImportError as e:
    raise ConfigError(f'bad gin configuration: a gin file imports a module that does not exist ({e})') from e


def default_logdir(gin_files):
  """logs/<task>/<config>/seed<N>: config names the gin files after the first, or `planet`."""
  task = gin.query_parameter('train.task')
  seed = _query('train.seed', 0)
  names = [os.path.splitext(os.path.basename(path))[0] for path in gin_files[1:]]
  names = [name for name in names if name not in ('base', task)]
  return os.path.join('logs', task, '-'.join(names) or 'planet', f'seed{seed}')


def query(name):
  return gin.query_parameter(name)


def _query(name, default):
  try:
    return gin.query_parameter(name)
  except ValueError:
    return default


def configure(gin_files, gin_params, logdir=None):
  """Parses the configuration; returns the run directory (given or default)."""
  if not gin_files:
    raise ConfigError('give at least one --gin_file, e.g. --gin_file=gin/cartpole.gin')
  parse(gin_files, gin_params)
  try:
    task = gin.query_parameter('train.task')
  except ValueError as e:
    raise ConfigError('no task: bind train.task in a gin file (e.g. gin/cartpole.gin)') from e
  if task != 'multitask':
    try:
      tasks_lib.get(task)
    except ValueError as e:
      raise ConfigError(str(e)) from e
  return logdir or default_logdir(gin_files)
