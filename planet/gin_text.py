"""gin files read as text, without gin or TensorFlow: where a path names a file (as given, or from the repository
root), and the bindings a file makes with the files it includes. scripts/sweep.py names and sizes runs this way, and
planet.tasks reads each task's action repeat from its gin file, the one place it is written."""
import os
import re

from planet import run_identity


class ConfigError(ValueError):
  """A configuration that cannot run, in one line (planet.config raises it too)."""


REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def resolve(path):
  """A gin file path as given, or relative to the repository root (so scripts run from any directory)."""
  if os.path.exists(path):
    return path
  candidate = os.path.join(REPO_ROOT, path)
  if os.path.exists(candidate):
    return candidate
  raise ConfigError(f'gin file {path!r} not found (give a path relative to the repository root or a full path)')


_INCLUDE = re.compile(r"""^include\s+(['"])(.+)\1\s*$""")


def file_bindings(path, _including=()):
  """{'Scope.param': 'value text'} of a gin file with the files it `include`s read first, as gin reads them (later
  bindings win). Needs no gin parsing, so scripts/sweep.py can read overlays without TensorFlow."""
  resolved = os.path.realpath(resolve(path))
  if resolved in _including:
    raise ConfigError(f'gin file {path!r} includes itself (through {" -> ".join(_including)})')
  with open(resolved) as f:
    text = f.read()
  found = {}
  for line in text.splitlines():
    match = _INCLUDE.match(line.strip())
    if match:
      found.update(file_bindings(match.group(2), _including + (resolved,)))
  found.update(run_identity.bindings(text))
  return found


def files_bindings(paths):
  """`file_bindings` of several gin files read in order, as `--gin_file`s are: later bindings win."""
  found = {}
  for path in paths:
    found.update(file_bindings(path))
  return found
