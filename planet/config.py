"""Configuration in: gin files and bindings parsed with one-line errors (ConfigError), their types and ranges checked,
and the run directory a configuration names (gin files read as text, without gin: planet.gin_text).

gin files import the modules whose configurables they bind (`import planet.training` in gin/base.gin, `import
planet.models.ssm` in gin/ablations/ssm.gin), so a new model needs no list here.
"""
import functools
import inspect
import json
import logging
import os
import re
import sys
import tokenize

import gin

from planet import gin_text
from planet import machine
from planet import run_identity
from planet import tasks as tasks_lib

ConfigError = gin_text.ConfigError
# Bindings that may say 'auto' (networks.resolve_precision): scripts/train.py binds what it resolves to before a run
# starts, so a run's config.gin records 'float32' or 'bfloat16' where its gin files say 'auto'.
AUTO_PRECISION = ('Encoder.precision', 'Decoder.precision')


def resolved_from(key, expected, recorded):
  """Whether the recorded value text of `key` is what 'auto' resolved to, where `expected` says 'auto'."""
  return key in AUTO_PRECISION and unquoted(expected) == 'auto' and unquoted(recorded) in ('float32', 'bfloat16')


def unquoted(text):
  """A binding's text without spaces and quotes: "cem_plan.horizon = 8" -> 'cem_plan.horizon=8'."""
  return re.sub(r"[\s'\"]", '', text)


@functools.lru_cache(maxsize=None)
def _add_search_path():
  """`include 'gin/base.gin'` lines resolve against the repository root too (added once per process)."""
  gin.add_config_file_search_path(gin_text.REPO_ROOT)


def parse(gin_files, gin_params):
  gin_files = [gin_text.resolve(path) for path in gin_files]
  gin.clear_config()
  _add_search_path()
  quiet = logging.root.manager.disable
  logging.disable(logging.INFO)  # gin logs each include it looks up on the search path ("system_path_file_exists").
  try:
    gin.parse_config_files_and_bindings(gin_files, gin_params, finalize_config=False)
  except (ValueError, KeyError, SyntaxError, tokenize.TokenError) as e:
    first = (str(e).strip().splitlines() or [type(e).__name__])[0]
    raise ConfigError(f'bad gin configuration: {first} (check the spelling against the gin files in gin/)') \
        from e
  except ImportError as e:
    raise ConfigError(f'bad gin configuration: a gin file imports a module that does not exist ({e})') from e
  finally:
    logging.disable(quiet)
  check_types()
  check_ranges()


def _configurables():
  """{name: callable} of the gin configurables in the loaded planet modules (functions and classes)."""
  found = {}
  for name, module in list(sys.modules.items()):
    if name.startswith('planet.') and module is not None:
      for attribute, value in vars(module).items():
        if callable(value) and getattr(value, '__module__', None) == name:
          found.setdefault(attribute, value)
  return found


def _type_matches(value, default):
  if isinstance(default, bool) or isinstance(value, bool):
    return isinstance(value, bool) and isinstance(default, bool)
  if isinstance(default, int):
    return isinstance(value, int)
  if isinstance(default, float):
    return isinstance(value, (int, float))
  if isinstance(default, str):
    return isinstance(value, str)
  if isinstance(default, (tuple, list)):
    return isinstance(value, (tuple, list))
  return True


def check_types():
  """Refuses (ConfigError) a binding whose value has another type than the parameter's default, e.g.
  `train.batch_size = '50'`, before anything runs."""
  configurables = _configurables()
  for key in run_identity.bindings(gin.config_str()):
    if '/' in key or key.count('.') != 1:
      continue
    name, param = key.split('.')
    target = configurables.get(name)
    if target is None:
      continue
    try:
      parameter = inspect.signature(target).parameters.get(param)
    except (TypeError, ValueError):
      continue
    if parameter is None or parameter.default in (inspect.Parameter.empty, None, gin.REQUIRED):
      continue
    value = gin.query_parameter(key)
    if not _type_matches(value, parameter.default):
      raise ConfigError(f'bad gin configuration: {key} = {value!r} is a {type(value).__name__}, but it takes a '
                        f'{type(parameter.default).__name__} (default {parameter.default!r})')


# Settings that cannot work, refused before anything is written: (binding, rule as said, check). A check gets the
# value and a reader of other bindings (for rules between two of them).
RANGES = (
    ('train.total_episodes', 'a positive count', lambda v, q: v >= 1),
    ('train.seed_episodes', 'at least 1 (the model trains on them)', lambda v, q: v >= 1),
    ('train.collect_interval', 'a positive count of updates', lambda v, q: v >= 1),
    ('train.batch_size', 'a positive size', lambda v, q: v >= 1),
    ('train.chunk_length', 'a positive length', lambda v, q: v >= 1),
    ('train.test_every', 'a positive count of episodes', lambda v, q: v >= 1),
    ('train.test_episodes', 'a positive count', lambda v, q: v >= 1),
    ('train.final_test_episodes', 'a positive count', lambda v, q: v >= 1),
    ('train.video_every', '0 (off) or a positive count', lambda v, q: v >= 0),
    ('make_env.max_env_steps', 'a positive count', lambda v, q: v >= 1),
    ('make_env.action_repeat', 'a positive count', lambda v, q: v >= 1),
    ('make_env.size', 'a positive image size', lambda v, q: v >= 1),
    ('cem_plan.horizon', 'a positive length', lambda v, q: v >= 1),
    ('cem_plan.iterations', 'a positive count', lambda v, q: v >= 1),
    ('cem_plan.candidates', 'a positive count', lambda v, q: v >= 1),
    ('cem_plan.top_k', 'between 1 and cem_plan.candidates', lambda v, q: 1 <= v <= q('cem_plan.candidates', v)),
    ('cem_plan.discount', 'in (0, 1]', lambda v, q: 0 < v <= 1),
    ('WorldModel.free_nats', 'non-negative (nats)', lambda v, q: v >= 0),
    ('WorldModel.kl_scale', 'non-negative', lambda v, q: v >= 0),
    ('WorldModel.reward_scale', 'positive', lambda v, q: v > 0),
    ('WorldModel.image_bits', 'between 1 and 8', lambda v, q: 1 <= v <= 8),
    ('WorldModel.global_prior_scale', 'non-negative', lambda v, q: v >= 0),
    ('WorldModel.overshooting', 'a distance D >= 1 (1: off)', lambda v, q: v >= 1),
    ('RSSM.deterministic_size', 'a positive size', lambda v, q: v >= 1),
    ('RSSM.stochastic_size', 'a positive size', lambda v, q: v >= 1),
    ('RSSM.hidden_size', 'a positive size', lambda v, q: v >= 1),
    ('RSSM.min_std', 'non-negative', lambda v, q: v >= 0),
    ('Encoder.depth', 'a positive size', lambda v, q: v >= 1),
    ('Decoder.depth', 'a positive size', lambda v, q: v >= 1),
    ('RewardHead.units', 'a positive size', lambda v, q: v >= 1),
    ('RewardHead.layers', 'a positive count', lambda v, q: v >= 1),
    ('Adam.learning_rate', 'positive', lambda v, q: v > 0),
    ('Adam.epsilon', 'positive', lambda v, q: v > 0),
    ('Adam.clip_norm', 'positive', lambda v, q: v > 0),
    ('Agent.exploration_noise', 'a non-negative standard deviation', lambda v, q: v >= 0),
)


def check_ranges():
  """Refuses (ConfigError) a count, size or scale that cannot work (RANGES), naming the binding, its value and the
  rule, before anything runs. Unbound settings and values of another type (check_types' concern) are skipped."""
  for key, rule, check in RANGES:
    value = _query(key, None)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      continue
    if not check(value, _query):
      other = re.search(r'\w+\.\w+', rule)  # A rule between two bindings names the other's value too.
      rule += f' ({_query(other.group(0), None)})' if other else ''
      raise ConfigError(f'bad gin configuration: {key} = {value!r}, but it must be {rule}')


# MUJOCO_GL values dm_control understands.
RENDERING_BACKENDS = ('egl', 'osmesa', 'glfw')


def check_rendering_backend():
  """Refuses (ConfigError) a MUJOCO_GL value that dm_control does not know."""
  backend = os.environ.get('MUJOCO_GL', 'egl')
  if backend not in RENDERING_BACKENDS:
    raise ConfigError(f'MUJOCO_GL={backend!r} is not a rendering backend: use egl (the default; GPU or Mesa), '
                      'osmesa (software, slower) or glfw (needs a display)')


def default_logdir(gin_files, gin_params=()):
  """logs/<task>/<config>/seed<N> for the parsed configuration (see `run_path`)."""
  return run_path('logs', gin.query_parameter('train.task'), _query('train.seed', 0), gin_files[1:], gin_params)


def run_path(root, task, seed, overlays, gin_params=()):
  """<root>/<task>/<config>/seed<N>. <config> names the overlay gin files (`planet` when none) and then the
  --gin_param bindings, as in `planet+cem_plan.horizon=8`, so two experiments never share a directory. Files and
  bindings that change only how a run executes (gin/gpu.gin, run_identity.EXECUTION_ONLY), train.task and train.seed
  (parts of the path already) leave the name alone. Needs no gin parsing (scripts/sweep.py names runs without
  TensorFlow)."""
  names = []
  for path in overlays:
    name = os.path.splitext(os.path.basename(path))[0]
    keys = set(gin_text.file_bindings(path))
    if name not in ('base', task) and not (keys and keys <= set(run_identity.EXECUTION_ONLY)):
      names.append(name)
  params = []
  for param in gin_params:
    key = param.split('=')[0].strip()
    if key not in run_identity.EXECUTION_ONLY and key not in ('train.seed', 'train.task'):  # Both are in the path.
      params.append(binding_name(param))
  config = '-'.join(names) or 'planet'
  if params:
    config += '+' + '+'.join(params)
  return os.path.join(root, task, config, f'seed{seed}')


def binding_name(param):
  """A --gin_param binding as part of a file name: "cem_plan.horizon = 8" -> 'cem_plan.horizon=8' (spaces and
  quotes dropped, '/' of a scope -> '_')."""
  return unquoted(param).replace('/', '_')


def configuration_errors(configurations):
  """Parses every (gin files, gin params) pair and checks its task and types: [(index, error line)] of the bad
  ones. For scripts/sweep.py's --dry_run, run in one subprocess (`python -m planet.config check`)."""
  errors = []
  for index, (gin_files, gin_params) in enumerate(configurations):
    try:
      configure(gin_files, gin_params, logdir='unused')
    except ConfigError as e:
      errors.append((index, str(e)))
  return errors


def query(name, default=gin.REQUIRED):
  """The bound value of `name`; `default` when it is unbound (a ValueError without one)."""
  if default is gin.REQUIRED:
    return gin.query_parameter(name)
  return _query(name, default)


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
  return logdir or default_logdir(gin_files, gin_params)


if __name__ == '__main__':
  # python -m planet.config check: reads [[gin files, gin params], ...] as JSON on stdin, prints the errors as JSON.
  if sys.argv[1:] != ['check']:
    sys.exit('usage: python -m planet.config check < configurations.json')
  machine.import_tensorflow()
  print(json.dumps(configuration_errors(json.load(sys.stdin))))
