"""gin set-up shared by the scripts: parse files and bindings with clear errors, choose the run directory."""
import functools
import os
import platform

import gin


class ConfigError(ValueError):
  pass


def register_configurables():
  """Imports every module with gin configurables so that bindings to them resolve."""
  # pylint: disable=import-outside-toplevel,unused-import
  from planet import agent, envs, evaluation, networks, optimizer, planner, training, world_model
  from planet.models import drnn, gru, rssm, ssm


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
  register_configurables()
  gin_files = [resolve(path) for path in gin_files]
  gin.clear_config()
  _add_search_path()
  try:
    gin.parse_config_files_and_bindings(gin_files, gin_params, finalize_config=False)
  except (ValueError, KeyError, SyntaxError) as e:
    first = str(e).strip().splitlines()[0]
    raise ConfigError(f'bad gin configuration: {first} (check the spelling against the gin files in gin/)') \
        from e


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
  from planet import envs  # pylint: disable=import-outside-toplevel
  try:
    envs.task_spec(task)
  except ValueError as e:
    raise ConfigError(str(e)) from e
  return logdir or default_logdir(gin_files)


def describe_device():
  """The first GPU's name, or the CPU's model and core count: the machine a measurement names."""
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  gpus = tf.config.list_physical_devices('GPU')
  if gpus:
    return tf.config.experimental.get_device_details(gpus[0]).get('device_name', 'GPU')
  name = platform.processor() or platform.machine()
  try:
    with open('/proc/cpuinfo') as f:
      name = next((line.split(':', 1)[1].strip() for line in f if line.startswith('model name')), name)
  except OSError:
    pass
  return f'CPU {name} x{os.cpu_count()} cores'
