"""Same-process A/B of a gin binding read when tracing (scripts/benchmark.py --compare_binding), and XLA settings
timed one process each, back to back (--xla_settings)."""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf

import planet
from planet import agent as agent_lib
from planet import config as config_lib
from planet import gin_text
from planet import networks
from planet import rundir
from planet import world_model
from planet.measure import timing

# Named XLA settings that `scripts/benchmark.py --xla_settings` times, one process each (XLA reads XLA_FLAGS once per
# process), against 'base' (the flags the environment already has, with planet.XLA_DEFAULT_FLAGS). Candidates for the
# GPU (docs/gpu.md); any raw '--xla_...' flags can be given too. A setting's flag replaces the one of the
# same name in the environment (planet.merge_flags).
XLA_SETTINGS = {
    'base': '',
    # XLA's own default: loops run by the host, which waits after each step of a loop whose trip count XLA cannot
    # prove (the train step's gradient loop). planet.XLA_DEFAULT_FLAGS turns it off.
    'no_cmdbuf': '--xla_gpu_enable_command_buffer=-WHILE,-CONDITIONAL',
    # cuBLASLt gemms, whose epilogue can add a bias and an activation (two of the planner's kernels per step do).
    'cublaslt': '--xla_gpu_enable_cublaslt=true',
    # Triton for every gemm, element-wise epilogues fused into it.
    'triton_gemm_any': '--xla_gpu_triton_gemm_any=true',
}
# The figures that --xla_settings sets side by side.
SETTING_FIGURES = ('train_step', 'train_step_first_call', 'train_step_device_batch', 'update_step',
                   'update_step_prefetch_device', 'plan_call', 'plan_first_call',
                   'ab_train_step', 'ab_plan_call', 'gpu_memory_peak')


def _while_ops(function):
  """While loops in the graph of a tf.function with an input signature, its function library included."""
  graph = function.get_concrete_function().graph.as_graph_def()
  nodes = list(graph.node) + [node for body in graph.library.function for node in body.node_def]
  return sum(node.op in ('While', 'StatelessWhile') for node in nodes)


def compare_binding(binding, out=None, jit=False, gin_files=(), gin_params=(), rounds=10, tiny=False,
                    skip=()):
  """Same-process A/B of one gin binding read when the hot functions are traced (e.g. `time_loop.unroll = True`):
  the train step and the plan call are traced once without it (A) and once with it (B) on the same weights, then
  timed alternately, A then B, for `rounds` rounds, so that the machine's drift and the process-to-process spread
  (+-8% between processes on the H100) fall on both. One record per function (`ab_train_step`, `ab_plan_call`):
  B's median, A's, their ratio, both first calls and both graphs' while-loop counts (which show the binding took).
  A's first call also pays what a process does once (B's does not), so compare first calls across processes.
  """
  gin_files, gin_params = list(gin_files), list(gin_params)
  timing.parse_config(jit, tiny, gin_files, gin_params)
  q = config_lib.query
  batch_size, length = q('train.batch_size'), q('train.chunk_length')
  report = timing.Report(out, dict(timing.run_context(jit, tiny, gin_files, gin_params), binding=binding))
  rng = np.random.RandomState(0)
  model = world_model.WorldModel(1)
  batch = timing.random_batch(rng, batch_size, length)
  obs = {'image': rng.randint(0, 256, networks.IMAGE_SHAPE).astype(np.uint8)}
  seed = tf.constant([0, 1])
  calls, first, loops = {}, {}, {}
  for variant in ('a', 'b'):
    if variant == 'b':
      timing.parse_config(jit, tiny, gin_files, gin_params + [binding])
    learner, agent = world_model.Learner(model, batch_size, length), agent_lib.Agent(model)
    if 'train' not in skip:
      calls['train', variant] = lambda learner=learner: learner.train_step(batch, seed)['loss'].numpy()
      loops['train', variant] = _while_ops(learner.train_step)
    if 'plan' not in skip:
      calls['plan', variant] = lambda agent=agent: agent.act(obs, np.array([0, 1]), True)
      loops['plan', variant] = _while_ops(agent.step)
    for (part, which), call in list(calls.items()):
      if which == variant:  # Trace and compile now, under this variant's bindings.
        tic = time.perf_counter()
        call()
        first[part, variant] = time.perf_counter() - tic
        call()
  times = _alternate(calls, rounds)
  for part, name in (('train', 'ab_train_step'), ('plan', 'ab_plan_call')):
    if (part, 'a') in times:
      a, b = float(np.median(times[part, 'a'])), float(np.median(times[part, 'b']))
      report.add(name, b, 's', baseline=round(a, 6), ratio=round(b / a, 4), rounds=rounds,
                 first_call=round(first[part, 'b'], 3), baseline_first_call=round(first[part, 'a'], 3),
                 while_ops=[loops[part, 'a'], loops[part, 'b']])
  for row in report.rows:
    print(f"{row['name']:<14} with {binding!r}: {row['value']:.5g} s, without: {row['baseline']:.5g} s "
          f"(ratio {row['ratio']:.3f}); first calls {row['first_call']:.1f} s and {row['baseline_first_call']:.1f} s")
  return report.rows


def _alternate(calls, rounds):
  """{key: [seconds per round]}: each of `calls` once per round, in turn, for `rounds` rounds."""
  times = {key: [] for key in calls}
  for _ in range(rounds):
    for key, call in calls.items():
      tic = time.perf_counter()
      call()
      times[key].append(time.perf_counter() - tic)
  return times


def xla_setting_flags(setting):
  """The XLA flags of a setting: a name of XLA_SETTINGS or raw flags ('--xla_...'); ValueError otherwise."""
  if setting in XLA_SETTINGS:
    return XLA_SETTINGS[setting]
  if setting.startswith('--xla_'):
    return setting
  raise ValueError(f"unknown XLA setting {setting!r}: use {', '.join(XLA_SETTINGS)} or raw flags such as "
                   "'--xla_gpu_autotune_level=0'")


def split_settings(text):
  """'no_cmdbuf,--xla_a=+WHILE,+CONDITIONAL' -> ['no_cmdbuf', '--xla_a=+WHILE,+CONDITIONAL']: after raw flags, a
  comma-separated piece that is neither a setting's name nor starts with '--' belongs to them."""
  settings = []
  for piece in text.split(','):
    if settings and settings[-1].startswith('--') and piece not in XLA_SETTINGS and not piece.startswith('--'):
      settings[-1] += f',{piece}'
    else:
      settings.append(piece)
  return settings


def without_options(argv, names):
  """`argv` without the options `names` and their values ('--out F' and '--out=F' alike)."""
  kept, skip = [], False
  for arg in argv:
    if skip:
      skip = False
    elif arg in names:
      skip = True
    elif not any(arg.startswith(f'{name}=') for name in names):
      kept.append(arg)
  return kept


def compare_xla_settings(settings, argv, out=None):
  """Runs scripts/benchmark.py with the options `argv` once per XLA setting ('base' first, then `settings` in order),
  each in its own process with the setting's flags added to XLA_FLAGS (replacing flags of the same name), back to
  back on this machine. Every record gets 'xla_setting' (its name) and goes to `out`; prints the main figures side by
  side with their ratio to base. Returns (records, the settings whose process failed)."""
  order = ['base'] + [setting for setting in settings if setting != 'base']
  flags = {setting: xla_setting_flags(setting) for setting in order}
  records, failed = [], []
  with tempfile.TemporaryDirectory() as tmp:
    for index, setting in enumerate(order):
      path = os.path.join(tmp, f'{index}.jsonl')
      # Never empty (which XLA refuses): `import planet` put its defaults into XLA_FLAGS.
      env = dict(os.environ, XLA_FLAGS=planet.merge_flags(os.environ.get('XLA_FLAGS'), flags[setting]))
      print(f"[{index + 1}/{len(order)}] {setting}: XLA_FLAGS={env['XLA_FLAGS']!r}", flush=True)
      code = subprocess.run([sys.executable, os.path.join(gin_text.REPO_ROOT, 'scripts', 'benchmark.py'), *argv,
                             '--out', path], env=env, stdout=subprocess.DEVNULL, check=False).returncode
      if code:
        print(f'{setting}: the benchmark exited with code {code}', flush=True)
        failed.append(setting)
      for record in rundir.read_jsonl(path):
        record = dict(record, xla_setting=setting)
        records.append(record)
        if out:
          rundir.append_jsonl(out, record)
  values = {(r['xla_setting'], r['name']): r['value'] for r in records}
  widths = [max(len(setting), 20) + 2 for setting in order]
  print(f"\n{'figure':<24}" + ''.join(f'{setting:>{width}}' for setting, width in zip(order, widths)))
  for name in SETTING_FIGURES:
    base = values.get(('base', name))
    if base is None:
      continue
    cells = [f'{base:.5g}'] + [f"{values[setting, name]:.5g} ({values[setting, name] / base:.2f}x)"
                               if (setting, name) in values else '-' for setting in order[1:]]
    print(f'{name:<24}' + ''.join(f'{cell:>{width}}' for cell, width in zip(cells, widths)))
  return records, failed
