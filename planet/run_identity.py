"""Which bindings make an experiment, and the check that a run directory is resumed only with the experiment it
holds: <logdir>/experiment.json records the bindings on first use, and a resume with other bindings is refused with
the differing ones named."""
import json
import os
import re

from planet import rundir

# Bindings that change how a run executes, not what it computes (gin/gpu.gin), or how long it goes on: they
# neither name the run directory nor block a resume.
EXECUTION_ONLY = ('Learner.jit_compile', 'Agent.jit_compile', 'time_loop.unroll', 'train_step/time_loop.unroll',
                  'act/time_loop.unroll', 'train.prefetch_device', 'train.total_episodes', 'transposed_convs.rewrite')
# Bindings that the gin files gained after runs had been recorded, with the value that those runs had without them
# (the code's behaviour then): a run directory recorded before a binding existed resumes where it is bound to that
# value (a configuration that binds neither, without gin/base.gin, is compared as it is).
IMPLICIT_BEFORE = {
    'cem_plan.discount': '1.0', 'cem_plan.resample_belief': 'True',  # Bound in gin/base.gin from 48335d6 on.
    'RandomAgent.distribution': "'uniform'",  # Bound from 2026-12-06 on; the code's default before.
    # 'auto' in gin/quick.gin from 2026-12-06 on; float32 before, and on a CPU without bfloat16 units still.
    'Encoder.precision': "'float32'", 'Decoder.precision': "'float32'",
}
# How to resume with the recorded value of a binding that an overlay sets, named in the refusal when it differs.
RESUME_HINTS = {
    'Encoder.precision': 'gin/float32.gin or gin/mixed_precision.gin, added last, keeps its precision',
    'Decoder.precision': 'gin/float32.gin or gin/mixed_precision.gin, added last, keeps its precision',
}
_BINDING = re.compile(r'^([A-Za-z_][\w.]*(?:/[\w.]+)*)\s*=\s*(.*)$')


def bindings(config_text):
  """{'Scope.param': 'value text'} of a gin config text (imports, comments and macros' layout ignored)."""
  found, key = {}, None
  for line in config_text.splitlines():
    stripped = line.strip()
    if not stripped or stripped.startswith('#') or stripped.startswith('import ') or stripped.startswith('include '):
      key = None
      continue
    match = _BINDING.match(line)
    if match and not line[0].isspace():
      key = match.group(1)
      found[key] = match.group(2).strip()
    elif key:  # A value continued over several lines.
      found[key] += ' ' + stripped
  return found


def experiment(config_text):
  """The bindings that define the experiment: everything but EXECUTION_ONLY."""
  return experiment_of(bindings(config_text))


def experiment_of(found):
  """The bindings of {key: value text} that define the experiment: everything but EXECUTION_ONLY."""
  return {key: value for key, value in found.items() if key not in EXECUTION_ONLY}


def implicit_values(recorded, current):
  """The IMPLICIT_BEFORE values a recorded configuration lacks and the current one binds: what the recorded run
  ran with before those bindings existed."""
  return {key: value for key, value in IMPLICIT_BEFORE.items() if key not in recorded and key in current}


def check_same_experiment(logdir, config_text):
  """Records the experiment's bindings in <logdir>/experiment.json on first use; afterwards refuses (RunDirError)
  a configuration whose experiment differs, naming the differing bindings."""
  path = rundir.RunDir(logdir).experiment
  current = experiment(config_text)
  if not os.path.exists(path):
    rundir.write_atomically(path, json.dumps(current, indent=1, sort_keys=True))
    return
  with open(path) as f:
    recorded = json.load(f)
  implicit = implicit_values(recorded, current)
  recorded = {**implicit, **recorded}
  differing = sorted(set(recorded) | set(current), key=str)
  differing = [key for key in differing if recorded.get(key) != current.get(key)]
  if differing:
    def before(key):
      return f'{recorded[key]} (unset, as before the binding existed)' if key in implicit else recorded.get(key, '(unset)')
    shown = '; '.join(f'{key}: {before(key)} -> {current.get(key, "(unset)")}' for key in differing[:4])
    more = f' and {len(differing) - 4} more' if len(differing) > 4 else ''
    hints = sorted({RESUME_HINTS[key] for key in differing if key in RESUME_HINTS})
    how = f' ({"; ".join(hints)})' if hints else ''
    raise rundir.RunDirError(f'{logdir} holds another experiment ({shown}{more}); resume it with its original '
                             f'settings{how}, or give this one another --logdir')
