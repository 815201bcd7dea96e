"""Timings of PlaNet's hot paths, each also read as a fraction of the device's dense-matmul FLOP rate, and the
float32 / bfloat16 comparison of gin/mixed_precision.gin (scripts/benchmark.py, scripts/compare_precision.py).

FLOP counts are computed from the layer sizes (`train_step_flops`, `plan_flops`): a multiply-add counts 2.
Every figure is one JSON line (name, value, unit, device, TF version, flags).
"""
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

import planet
from planet import agent as agent_lib
from planet import cli
from planet import envs
from planet import machine
from planet import networks
from planet import objectives
from planet import optimizer as optimizer_lib
from planet import records
from planet import replay as replay_lib
from planet import rollout
from planet import rundir
from planet import tasks as tasks_lib
from planet import training
from planet import world_model

# Parts of `run` that can be skipped.
PARTS = ('matmul', 'train', 'parts', 'plan', 'updates', 'env', 'episode')
PRECISION_TERMS = ('loss', 'image_loss', 'reward_loss', 'kl')
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


def conv_flops(size_in, channels_in, channels_out, kernel, transpose):
  """2 x MACs of a stride-2 valid (transposed) convolution on a square input."""
  if transpose:
    return 2 * size_in * size_in * kernel * kernel * channels_in * channels_out
  size_out = (size_in - kernel) // 2 + 1
  return 2 * size_out * size_out * kernel * kernel * channels_in * channels_out


def frame_flops(depth, feature_size):
  """Forward FLOPs of encoder + decoder for one 64x64 frame (the World Models nets, App. A)."""
  encoder, size, channels = 0, tasks_lib.IMAGE_SIZE, 3
  for out in (depth, 2 * depth, 4 * depth, 8 * depth):
    encoder += conv_flops(size, channels, out, 4, False)
    size, channels = (size - 4) // 2 + 1, out
  decoder, size, channels = 2 * feature_size * 32 * depth, 1, 32 * depth
  for out, kernel in ((4 * depth, 5), (2 * depth, 5), (depth, 6), (3, 6)):
    decoder += conv_flops(size, channels, out, kernel, True)
    size, channels = (size - 1) * 2 + kernel, out
  return encoder, decoder


def transition_flops(stoch, deter, hidden, action):
  """Forward FLOPs of one prior step of the RSSM for one sample."""
  return 2 * ((stoch + action) * hidden + (hidden + deter) * 3 * deter + deter * hidden + hidden * 2 * stoch)


def reward_flops(feature, units, layers):
  sizes = [feature] + [units] * layers + [1]
  return 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def train_step_flops(p):
  """Forward + backward (~3x forward) FLOPs of one train step over B x L frames."""
  feature = p['stoch'] + p['deter']
  encoder, decoder = frame_flops(p['depth'], feature)
  posterior = 2 * ((p['deter'] + 32 * p['depth']) * p['hidden'] + p['hidden'] * 2 * p['stoch'])
  per_frame = (encoder + decoder + transition_flops(p['stoch'], p['deter'], p['hidden'], p['action'])
               + posterior + reward_flops(feature, p['reward_units'], p['reward_layers']))
  return 3 * per_frame * p['batch'] * p['length']


def plan_flops(p):
  """FLOPs of one CEM call: I x J x H transitions and reward evaluations (the filter step is negligible)."""
  per_step = (transition_flops(p['stoch'], p['deter'], p['hidden'], p['action'])
              + reward_flops(p['stoch'] + p['deter'], p['reward_units'], p['reward_layers']))
  return per_step * p['candidates'] * p['horizon'] * p['iterations']


def profile_ops(fn, calls, logdir):
  """Where the time of `fn` goes, by TensorFlow's profiler over `calls` calls: [(op type, ms per call)] by self
  time summed over threads, largest first (the profiler's 'IDLE' row is the threads' waiting)."""
  # TensorFlow's own trace converter (the TensorBoard profile plugin's back end); a private module of TF 2.21.
  from tensorflow.python.profiler.internal import _pywrap_profiler_plugin
  tf.profiler.experimental.start(logdir)
  try:
    for _ in range(calls):
      fn()
  finally:
    tf.profiler.experimental.stop()
  traces = sorted(glob.glob(os.path.join(logdir, '**', '*.xplane.pb'), recursive=True), key=os.path.getmtime)
  data, ok = _pywrap_profiler_plugin.xspace_to_tools_data(traces[-1:], 'framework_op_stats', {})
  if not ok:
    raise RuntimeError(f'the profiler could not convert {traces[-1]}')
  table = json.loads(data)[0]
  columns = [column['id'] for column in table['cols']]
  totals = {}
  for row in table['rows']:
    op = dict(zip(columns, [cell.get('v') if cell else None for cell in row['c']]))
    totals[op['type']] = totals.get(op['type'], 0.0) + op['total_self_time'] / 1000 / calls
  return sorted(totals.items(), key=lambda item: -item[1])


def plan_matmuls(p):
  """Every matmul of one plan call as (rows, inputs, outputs, count): the transition's five per imagined step (I x H
  of them, J rows each) and the reward head's layers over all J x H imagined states (I of them). Their FLOPs are
  `plan_flops`."""
  rows, steps, iterations = p['candidates'], p['horizon'], p['iterations']
  stoch, deter, hidden = p['stoch'], p['deter'], p['hidden']
  # RSSM prior: input layer, GRU gates and candidate, hidden layer, Gaussian output layer.
  transition = [(stoch + p['action'], hidden), (hidden + deter, 2 * deter), (hidden + deter, deter),
                (deter, hidden), (hidden, 2 * stoch)]
  reward = [stoch + deter] + [p['reward_units']] * p['reward_layers'] + [1]
  return ([(rows, k, n, iterations * steps) for k, n in transition]
          + [(rows * steps, k, n, iterations) for k, n in zip(reward[:-1], reward[1:])])


def matmuls_alone(shapes, repeats, jit=False):
  """Seconds that the matmuls of `shapes` ((rows, inputs, outputs, count) each) take alone, one after another:
  per shape, `count` matmuls in one compiled loop that runs them one at a time; the sum of the medians.

  Each matmul's right operand depends on the one before (plus zero times its output's max), and the whole output
  is read, so no compiler can hoist a matmul out of the loop or compute only part of it (XLA does both to a loop
  of `matmul(a, b)[0, 0]`). The max adds 1-3% on the 2-core AMD machine.
  """
  total = 0.0
  for rows, inputs, outputs, count in shapes:
    a, b = tf.random.normal([rows, inputs]), tf.random.normal([inputs, outputs])
    body = lambda i, x, a=a, b=b: (i + 1, tf.reduce_max(tf.matmul(a, b + x)) * 0.0)
    loop = tf.function(lambda count=count, body=body: tf.while_loop(
        lambda i, _: i < count, body, (0, 0.0), parallel_iterations=1)[1], jit_compile=jit)
    loop().numpy()
    total += _median_time(lambda loop=loop: loop().numpy(), repeats)
  return total


def train_step_parts(model, sizes, jit, repeats, rng):
  """{part: seconds} of the train step's parts at `sizes`, each compiled alone (XLA if `jit`), forward and backward:

  - convs: the encoder on the chunk's images and the decoder's image NLL from fixed features, with a fixed
    stand-in for the gradient that the RSSM would pass back to the embeddings;
  - rssm: the filter over the chunk (`observe`) from fixed embeddings, with the KL and a fixed stand-in for the
    gradient of the features;
  - optimizer: Adam's update of every variable from fixed gradients (it changes the weights: timing only).

  What the parts leave of the whole step is what they share: the image preprocessing, the reward head, the copy of
  the batch in, and whatever a compiler fuses across the parts.
  """
  batch, length = sizes['batch'], sizes['length']
  dynamics = model.dynamics
  image = tf.constant(rng.uniform(-0.5, 0.5, (batch, length, *networks.IMAGE_SHAPE)), tf.float32)
  features = tf.constant(rng.normal(size=(batch, length, dynamics.feature_size)), tf.float32)
  embed = tf.constant(rng.normal(size=(batch, length, model.encoder.embed_size)), tf.float32)
  action = tf.constant(rng.uniform(-1, 1, (batch, length, model.action_size)), tf.float32)
  seed = tf.constant([0, 1])
  embed_grad = tf.constant(rng.normal(size=embed.shape) * 1e-3, tf.float32)
  features_grad = tf.constant(rng.normal(size=features.shape) * 1e-3, tf.float32)
  conv_variables = model.encoder.trainable_variables + model.decoder.trainable_variables

  def convs():
    with tf.GradientTape() as tape:
      loss = (objectives.negative_log_likelihood(model.decoder(features), image)
              + tf.reduce_sum(model.encoder(image) * embed_grad))
    return tf.linalg.global_norm(tape.gradient(loss, conv_variables))

  def filter_chunk():
    with tf.GradientTape() as tape:
      post, prior = dynamics.observe(embed, action, dynamics.initial(batch), seed)
      loss = tf.reduce_sum(dynamics.features(post) * features_grad)
      if dynamics.stochastic:
        loss += objectives.kl_with_free_nats(dynamics.distribution(post), dynamics.distribution(prior),
                                             model.free_nats)[0]
    return tf.linalg.global_norm(tape.gradient(loss, dynamics.trainable_variables))

  optimizer = optimizer_lib.Adam(model.trainable_variables)
  gradients = [tf.constant(rng.normal(size=v.shape) * 1e-3, v.dtype) for v in model.trainable_variables]
  seconds = {}
  for part, fn in (('convs', convs), ('rssm', filter_chunk), ('optimizer', lambda: optimizer.apply(gradients))):
    compiled = tf.function(fn, jit_compile=jit)
    compiled().numpy()
    seconds[part] = _median_time(lambda compiled=compiled: compiled().numpy(), repeats)
  return seconds


def _parse(jit, tiny, gin_files, gin_params):
  """The benchmarks' configuration: cartpole at paper sizes (gin/debug.gin's if `tiny`), XLA on or off, overlays."""
  cli.parse(['gin/cartpole.gin'] + (['gin/debug.gin'] if tiny else []) + list(gin_files),
            [f'Learner.jit_compile = {jit}', f'Agent.jit_compile = {jit}'] + list(gin_params))


def _random_batch(rng, batch_size, length):
  """A train-step batch of uniform noise (one action dimension, as cartpole)."""
  return {'image': rng.randint(0, 256, (batch_size, length, *networks.IMAGE_SHAPE)).astype(np.uint8),
          'action': rng.uniform(-1, 1, (batch_size, length, 1)).astype(np.float32),
          'reward': rng.uniform(0, 1, (batch_size, length)).astype(np.float32)}


def update_times(learner, sizes, steps, rounds, device=None):
  """Seconds per update of `training.update` as a training run calls it: chunks of episodes of noise sampled by the
  replay's prefetch thread and handed to the compiled step as numpy (the default, key 'numpy'), and where `device`
  is given also copied there by the prefetch thread (`train.prefetch_device`, key `device`). The variants alternate
  over `rounds` rounds of `steps` updates, each with a fresh prefetch thread; medians per variant. Unlike
  train_step, nothing waits for a step to finish before the next is handed over (only `update`'s end does)."""
  rng = np.random.RandomState(1)
  variants = {'numpy': None}
  if device:
    variants[device] = training.batch_to_device(device)
  times = {name: [] for name in variants}
  with tempfile.TemporaryDirectory() as tmp:
    replay, episodes = replay_lib.Replay(tmp), _random_batch(rng, 4, 2 * sizes['length'])
    for index in range(4):  # Four episodes of noise, twice a chunk long each.
      replay.add({key: value[index] for key, value in episodes.items()})
    for round_index in range(-1, rounds):  # Round -1 warms up (a first call compiles), untimed.
      for name, transform in variants.items():
        prefetch = replay_lib.Prefetcher(replay, sizes['batch'], sizes['length'], seed=round_index + 1,
                                         transform=transform)
        try:
          tic = time.perf_counter()
          training.update(learner, prefetch, steps if round_index >= 0 else 1, round_index + 1)
          if round_index >= 0:
            times[name].append((time.perf_counter() - tic) / steps)
        finally:
          prefetch.close()
  return {name: float(np.median(values)) for name, values in times.items()}


def _xla_env():
  return {key: os.environ[key] for key in ('XLA_FLAGS', 'TF_XLA_FLAGS') if os.environ.get(key)}


def _context(jit, tiny, gin_files, gin_params):
  """What every record of a timing run carries: the machine, TensorFlow, the commit and the settings."""
  flags = {'jit_compile': jit, 'TF_ENABLE_ONEDNN_OPTS': os.environ.get('TF_ENABLE_ONEDNN_OPTS'), 'tiny': tiny,
           'gin_files': gin_files, 'gin_params': gin_params, **_xla_env()}
  return dict(device=machine.describe(tf), host_cpu=machine.cpu_topology(), tf_version=tf.__version__, flags=flags,
              commit=machine.commit())


def _median_time(fn, repeats):
  times = []
  for _ in range(repeats):
    tic = time.perf_counter()
    fn()
    times.append(time.perf_counter() - tic)
  return float(np.median(times))


class Report:

  def __init__(self, out, context):
    self._out = out
    self._context = context
    self.rows = []

  def add(self, name, value, unit, **extra):
    row = dict(name=name, value=round(value, 6), unit=unit, **extra, **self._context)
    self.rows.append(row)
    print(json.dumps(row), flush=True)
    if self._out:
      rundir.append_jsonl(self._out, row)


def run(out=None, jit=False, tasks=None, episode_gin='gin/quick.gin', gin_files=(), gin_params=(), repeats=5,
        tiny=False, skip=(), profile=False, committed_dir=records.COMMITTED_DIR):
  """Measures every part not in `skip`; prints and returns the records (also appended to `out`), then the
  committed records of every machine beside this run's.

  `tiny` adds gin/debug.gin's sizes (for tests). `episode_gin` is the overlay of the training-episode figure.
  `profile` adds the plan call's time by op type (`profile_ops`) as one record.
  """
  gin_files, gin_params = list(gin_files), list(gin_params)
  tasks = list(tasks or tasks_lib.names())
  context = _context(jit, tiny, gin_files, gin_params)
  device, flags = context['device'], context['flags']
  report = Report(out, context)
  skip = set(skip)
  tiny_files = ['gin/debug.gin'] if tiny else []
  jit_params = [f'Learner.jit_compile = {jit}', f'Agent.jit_compile = {jit}'] + gin_params
  _parse(jit, tiny, gin_files, gin_params)
  q = lambda name: cli.query(name)
  sizes = dict(stoch=q('RSSM.stochastic_size'), deter=q('RSSM.deterministic_size'), hidden=q('RSSM.hidden_size'),
               depth=q('Encoder.depth'), reward_units=q('RewardHead.units'), reward_layers=q('RewardHead.layers'),
               batch=q('train.batch_size'), length=q('train.chunk_length'), action=1,
               candidates=q('cem_plan.candidates'), horizon=q('cem_plan.horizon'), iterations=q('cem_plan.iterations'))

  peak = None
  if 'matmul' not in skip:
    n = 512 if tiny else 4096
    a = tf.random.normal([n, n])
    # Only a scalar comes back: copying the 64 MiB product to the host would take a GPU longer than the matmul.
    matmul = tf.function(lambda x: tf.reduce_sum(tf.matmul(x, x)), jit_compile=jit)
    matmul(a).numpy()
    seconds = _median_time(lambda: matmul(a).numpy(), repeats)
    peak = 2 * n ** 3 / seconds
    report.add('matmul_flop_rate', peak / 1e9, 'GFLOP/s', size=n)

  def rate(name, seconds, flops, **more):
    extra = dict(flops=flops, gflop_per_s=round(flops / seconds / 1e9, 3), **more)
    if peak:
      extra['fraction_of_matmul'] = round(flops / seconds / peak, 4)
    report.add(name, seconds, 's', **extra)

  rng = np.random.RandomState(0)
  model = world_model.WorldModel(1)
  learner = world_model.Learner(model, sizes['batch'], sizes['length'])
  agent = agent_lib.Agent(model)
  train_seconds = plan_seconds = None
  if 'train' not in skip:
    batch = _random_batch(rng, sizes['batch'], sizes['length'])
    seed = tf.constant([0, 1])
    tic = time.perf_counter()
    learner.train_step(batch, seed)['loss'].numpy()
    report.add('train_step_first_call', time.perf_counter() - tic, 's', batch=sizes['batch'],
               length=sizes['length'])
    learner.train_step(batch, seed)['loss'].numpy()
    train_seconds = _median_time(lambda: learner.train_step(batch, seed)['loss'].numpy(), repeats)
    rate('train_step', train_seconds, train_step_flops(sizes))
    # The same compiled step with the batch already where the step runs (on a GPU: in its memory), so the
    # difference is what copying a numpy batch in costs; on a CPU both are the same.
    resident = {key: tf.identity(value) for key, value in batch.items()}
    resident_seconds = _median_time(lambda: learner.train_step(resident, seed)['loss'].numpy(), repeats)
    rate('train_step_device_batch', resident_seconds, train_step_flops(sizes),
         input_copy_share=round(1 - resident_seconds / train_seconds, 4), batch_on=resident['image'].device)
  if 'parts' not in skip:
    parts = train_step_parts(model, sizes, jit, repeats, rng)
    whole = train_seconds or 0.0
    for part, seconds in parts.items():
      report.add(f'train_{part}', seconds, 's', **({'share_of_step': round(seconds / whole, 4)} if whole else {}))
  if 'plan' not in skip:
    obs = {'image': rng.randint(0, 256, networks.IMAGE_SHAPE).astype(np.uint8)}
    tic = time.perf_counter()
    agent.act(obs, np.array([0, 0]), True)
    report.add('plan_first_call', time.perf_counter() - tic, 's', candidates=sizes['candidates'])
    agent.act(obs, np.array([0, 1]), True)
    plan_seconds = _median_time(lambda: agent.act(obs, np.array([0, 2]), True), repeats * 2)
    # The floor without changing what is computed: the same matmuls, alone. The plan call's share of it says how
    # much of the call is the matmuls' own speed on this machine and how much the ops around them.
    alone = matmuls_alone(plan_matmuls(sizes), repeats, jit)
    rate('plan_matmuls_alone', alone, plan_flops(sizes))
    rate('plan_call', plan_seconds, plan_flops(sizes), matmuls_alone_share=round(alone / plan_seconds, 4))
    if profile:
      with tempfile.TemporaryDirectory() as logdir:
        ops = profile_ops(lambda: agent.act(obs, np.array([0, 3]), True), 3, logdir)
      busy = sum(ms for op, ms in ops if op != 'IDLE')
      report.add('plan_call_op_profile', busy, 'ms', ops={op: round(ms, 2) for op, ms in ops})
      print(f'plan call by op type (self time summed over threads, ms per call; {busy:.0f} ms busy):')
      for op, ms in ops[:15]:
        print(f"  {op:<34} {ms:9.1f}" + (f'  {100 * ms / busy:5.1f}% of busy' if op != 'IDLE' else ''))
  if 'updates' not in skip:
    # After the plan call: these updates change the weights the planner would use.
    gpus = tf.config.list_logical_devices('GPU')
    steps, rounds = (50, 3) if gpus else (max(1, repeats), 2)
    times = update_times(learner, sizes, steps, rounds, gpus[0].name if gpus else None)
    common = dict(steps=steps, rounds=rounds)
    report.add('update_step', times.pop('numpy'), 's', **common)
    for where, seconds in times.items():
      report.add('update_step_prefetch_device', seconds, 's', prefetch_device=where, **common)
  if 'env' not in skip:
    for task in tasks:
      env = envs.make_env(task, seed=0, action_repeat=tasks_lib.get(task).action_repeat, max_env_steps=10 ** 6)
      env.reset()
      env.step(np.zeros(env.action_size))
      step = _median_time(lambda env=env: env.step(rng.uniform(-1, 1, env.action_size)), repeats * 4)
      report.add(f'env_step_{task}', step, 's', action_repeat=env.action_repeat,
                 per_env_step=round(step / env.action_repeat, 6))
      env.close()
  if 'episode' not in skip:
    # One iteration of Algorithm 1 on cartpole: C updates + one collected episode (with its own overlay).
    cli.parse(['gin/cartpole.gin'] + ([episode_gin] if episode_gin else []) + tiny_files + gin_files, jit_params)
    with tempfile.TemporaryDirectory() as tmp:
      env = envs.make_env('cartpole', seed=0)
      replay = replay_lib.Replay(tmp)
      random_agent = agent_lib.RandomAgent(env.action_size, rng)
      for i in range(2):
        replay.add(rollout.run_episode(env, random_agent, np.array([0, i]), True))
      model = world_model.WorldModel(env.action_size)
      learner = world_model.Learner(model, q('train.batch_size'), q('train.chunk_length'))
      agent = agent_lib.Agent(model)
      prefetch = replay_lib.Prefetcher(replay, q('train.batch_size'), q('train.chunk_length'), seed=0)
      steps = q('train.collect_interval')
      training.update(learner, prefetch, 1, 0)
      agent.act(env.reset(), np.array([0, 0]), True)
      batch = next(prefetch)
      step_time = _median_time(lambda: learner.train_step(batch, tf.constant([0, 1]))['loss'].numpy(), 3)
      obs = env.reset()
      act_time = _median_time(lambda: agent.act(obs, np.array([0, 1]), True), 5)
      tic = time.perf_counter()
      training.update(learner, prefetch, steps, 0)
      update_seconds = time.perf_counter() - tic
      tic = time.perf_counter()
      episode = rollout.run_episode(env, agent, np.array([0, 9]), True)
      collect_seconds = time.perf_counter() - tic
      prefetch.close()
      env.close()
    total = update_seconds + collect_seconds
    agent_steps = len(episode['reward']) - 1
    inside = steps * step_time + agent_steps * act_time
    report.add('training_episode_cartpole', total, 's', updates=steps, agent_steps=agent_steps,
               update_seconds=round(update_seconds, 3), collect_seconds=round(collect_seconds, 3),
               outside_compiled_share=round(max(0.0, 1 - inside / total), 4),
               overlay=episode_gin or 'paper')
  memory = training.gpu_memory_peak_mib()
  if memory is not None:  # On a GPU: the most memory TensorFlow held for everything measured above.
    report.add('gpu_memory_peak', memory, 'MiB')

  print('\n{:<28} {:>12} {:<8} {:>10}'.format('figure', 'value', 'unit', 'of matmul'))
  for row in report.rows:
    share = f"{100 * row['fraction_of_matmul']:.1f}%" if 'fraction_of_matmul' in row else ''
    print(f"{row['name']:<28} {row['value']:>12.4f} {row['unit']:<8} {share:>10}")
  print(f'device: {device}; TensorFlow {tf.__version__}; flags: {flags}')
  differs = (['XLA'] if jit else []) + (['tiny sizes'] if tiny else []) + gin_files + gin_params
  label = f'this run: {device}' + (f" ({', '.join(differs)})" if differs else '')
  columns = {label: {row['name']: row for row in report.rows}}
  columns.update(records.committed(committed_dir))
  print(f'\nthis run beside the committed records ({os.path.relpath(committed_dir, cli.REPO_ROOT)}, newest per '
        'machine, default settings; (x%) = fraction of that machine\'s matmul rate, @ = commit):')
  print('\n'.join(records.side_by_side(columns)))
  return report.rows


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
  _parse(jit, tiny, gin_files, gin_params)
  q = cli.query
  batch_size, length = q('train.batch_size'), q('train.chunk_length')
  report = Report(out, dict(_context(jit, tiny, gin_files, gin_params), binding=binding))
  rng = np.random.RandomState(0)
  model = world_model.WorldModel(1)
  batch = _random_batch(rng, batch_size, length)
  obs = {'image': rng.randint(0, 256, networks.IMAGE_SHAPE).astype(np.uint8)}
  seed = tf.constant([0, 1])
  calls, first, loops = {}, {}, {}
  for variant in ('a', 'b'):
    if variant == 'b':
      _parse(jit, tiny, gin_files, gin_params + [binding])
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
  times = {key: [] for key in calls}
  for _ in range(rounds):
    for key, call in calls.items():
      tic = time.perf_counter()
      call()
      times[key].append(time.perf_counter() - tic)
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
      code = subprocess.run([sys.executable, os.path.join(cli.REPO_ROOT, 'scripts', 'benchmark.py'), *argv,
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


def compare_precision(episodes_dir, gin_files, gin_params=(), steps=100, out=None):
  """Trains three copies of the world model from the same weights on the same batches of `episodes_dir`:
  float32, float32 with other noise draws, and gin/mixed_precision.gin with the first run's draws. Returns one
  record per run (mean loss terms over the last quarter of the steps, median step time), printed as a table.
  """
  replay = replay_lib.Replay(episodes_dir)
  if not replay.num_episodes:
    raise ValueError(f'no episode files in {episodes_dir}')
  gin_files = list(gin_files)
  if not gin_files:
    raise ValueError("give the run's gin files, e.g. --gin_file=gin/cartpole.gin --gin_file=gin/quick.gin")
  rows, tail = [], max(1, steps // 4)
  for name, overlay, stream in (('float32', [], 0), ('float32_other_noise', [], 1),
                                ('bfloat16', ['gin/mixed_precision.gin'], 0)):
    cli.parse(gin_files + overlay, list(gin_params))
    batch_size, length = cli.query('train.batch_size'), cli.query('train.chunk_length')
    tf.random.set_seed(0)  # The same initial weights for every run.
    model = world_model.WorldModel(replay.episodes()[0]['action'].shape[-1])
    learner = world_model.Learner(model, batch_size, length)
    rng = np.random.RandomState(0)  # The same batches for every run.
    history, times = {term: [] for term in PRECISION_TERMS}, []
    for step in tqdm(range(steps), desc=name, leave=False):
      batch = replay.sample(batch_size, length, rng)
      tic = time.perf_counter()
      terms = learner.train_step(batch, tf.constant([stream, step]))
      for term in PRECISION_TERMS:
        history[term].append(float(terms[term]))
      times.append(time.perf_counter() - tic)
    row = dict(name=name, steps=steps, batch_size=batch_size, length=length, gin_files=gin_files + overlay,
               episodes=replay.num_episodes, step_seconds=round(float(np.median(times[1:] or times)), 4),
               device=machine.describe(tf), tf_version=tf.__version__,
               **{f'{term}_last': round(float(np.mean(history[term][-tail:])), 4) for term in PRECISION_TERMS},
               **{f'{term}_first': round(float(np.mean(history[term][:5])), 4) for term in PRECISION_TERMS})
    rows.append(row)
    print(json.dumps(row), flush=True)
    if out:
      rundir.append_jsonl(out, row)
  print(f'\nmean over the last {tail} of {steps} steps')
  print('{:<22}'.format('run') + ''.join(f'{term:>14}' for term in PRECISION_TERMS) + f"{'step s':>10}")
  for row in rows:
    print(f"{row['name']:<22}" + ''.join(f"{row[term + '_last']:>14.3f}" for term in PRECISION_TERMS)
          + f"{row['step_seconds']:>10.3f}")
  return rows
