"""Reading XLA's optimized HLO (`XLA_FLAGS=--xla_dump_to=DIR`, files `*after_optimizations.txt`): how many
instructions each while loop runs per iteration (on a GPU each is a kernel launch) and whether XLA knows its trip
count. A loop without a known trip count copies its condition to the host after every iteration on a GPU and waits
for it (XLA's `WhileThunk`): TensorFlow's gradient of a scan is such a loop (docs/performance.md).
"""
import collections
import glob
import os
import re

# Instructions that launch nothing: bookkeeping of tuples, parameters, constants, and the control flow whose
# computations are counted on their own.
_FREE = {'parameter', 'get-tuple-element', 'tuple', 'constant', 'bitcast', 'while', 'conditional', 'call',
         'after-all', 'partition-id', 'replica-id', 'opt-barrier'}
_HEADER = re.compile(r'^(ENTRY )?%(\S+) \(')
_OP = re.compile(r'=\s*(?:\S+|\([^=]*?\))\s+([\w-]+)\(')


def computations(text):
  """({name: [instruction lines]}, entry name) of one HLO module's text."""
  text = re.sub(r'/\*.*?\*/', '', text)  # `/*index=5*/` comments inside tuple shapes.
  bodies, entry, current = {}, None, None
  for line in text.splitlines():
    header = _HEADER.match(line)
    if header:
      current = header.group(2)
      bodies[current] = []
      entry = current if header.group(1) else entry
    elif line.startswith('}'):
      current = None
    elif current is not None:
      bodies[current].append(line)
  return bodies, entry


def _kind(line):
  op = _OP.search(line)
  if not op:
    return None
  op = op.group(1)
  if op == 'fusion':
    kind = re.search(r'kind=(k\w+)', line)
    op += ':' + (kind.group(1) if kind else '?')
  elif op == 'custom-call':
    op += ':' + re.search(r'custom_call_target="([^"]+)"', line).group(1)
  return op


def loops(text):
  """[(depth, loop name, trip count or None, Counter of the body's running instructions by kind)] for every while
  loop of a module, outermost first, after one entry for the module's top level (depth 0, trip count 1)."""
  bodies, entry = computations(text)
  found = []

  def contents(name, kinds, nested):
    """What computation `name` runs, with the computations it calls (they run as part of it)."""
    for line in bodies[name]:
      op = _kind(line)
      if op is None:
        continue
      if op not in _FREE:
        kinds[op] += 1
      elif op == 'while':
        body = re.search(r'body=%?([^,\s]+)', line).group(1)
        count = re.search(r'"known_trip_count":\{"n":"(\d+)"', line)
        label = line.split('=')[0].strip().replace('ROOT ', '')
        nested.append((body, int(count.group(1)) if count else None, label))
      elif op == 'call':
        contents(re.search(r'to_apply=%?([^,\s]+)', line).group(1), kinds, nested)

  def visit(name, depth, trip, label):
    kinds, nested = collections.Counter(), []
    contents(name, kinds, nested)
    found.append((depth, label, trip, kinds))
    for body, count, while_name in nested:
      visit(body, depth + 1, count, while_name)

  visit(entry, 0, 1, entry)
  return found


def summary(path):
  """Text lines for one dump file: the module's top level, then each loop with its trip count and what it runs."""
  lines = [os.path.basename(path)]
  for depth, name, trip, kinds in loops(open(path).read()):
    what = ', '.join(f'{count} {kind}' for kind, count in kinds.most_common())
    if depth == 0:
      lines.append(f'  top level: {sum(kinds.values())} running instructions ({what})')
    else:
      count = (f'{trip} iterations' if trip is not None
               else 'trip count unknown: waits on the host every iteration on a GPU')
      lines.append(f"{'  ' * (depth + 1)}{name}: {count}; {sum(kinds.values())} per iteration ({what})")
  return lines


def dump_files(directory, match=''):
  """The optimized-HLO files of a dump directory whose name contains `match`."""
  return sorted(path for path in glob.glob(os.path.join(directory, '*after_optimizations.txt'))
                if match in os.path.basename(path))
