"""Timing helpers of the benchmarks: the configuration they parse, medians of repeated calls, one JSON line per figure
(`Report`), the plan call's op profile, the matmuls alone, the train step's parts and the update step."""
import glob
import json
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from planet import config as config_lib
from planet import machine
from planet import networks
from planet import objectives
from planet import optimizer as optimizer_lib
from planet import replay as replay_lib
from planet import rundir
from planet import updates


def profile_ops(fn, calls, logdir):
  """Where the time of `fn` goes, by TensorFlow's profiler over `calls` calls: [(op type, ms per call)] by self
  time summed over threads, largest first. The 'IDLE' row is the executor threads' waiting, not idle cores: work an
  op hands to oneDNN's threads is in no row (a lone 4096 matmul keeping both cores busy shows one thread's worth)."""
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
    total += median_time(lambda loop=loop: loop().numpy(), repeats)
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
    seconds[part] = median_time(lambda compiled=compiled: compiled().numpy(), repeats)
  return seconds


def parse_config(jit, tiny, gin_files, gin_params):
  """The benchmarks' configuration: cartpole at paper sizes (gin/debug.gin's if `tiny`), XLA on or off, overlays."""
  config_lib.parse(['gin/cartpole.gin'] + (['gin/debug.gin'] if tiny else []) + list(gin_files),
                   [f'Learner.jit_compile = {jit}', f'Agent.jit_compile = {jit}'] + list(gin_params))


def random_batch(rng, batch_size, length):
  """A train-step batch of uniform noise (one action dimension, as cartpole)."""
  return {'image': rng.randint(0, 256, (batch_size, length, *networks.IMAGE_SHAPE)).astype(np.uint8),
          'action': rng.uniform(-1, 1, (batch_size, length, 1)).astype(np.float32),
          'reward': rng.uniform(0, 1, (batch_size, length)).astype(np.float32)}


def update_times(learner, sizes, steps, rounds, device=None):
  """Seconds per update of `updates.update` as a training run calls it: chunks of episodes of noise sampled by the
  replay's prefetch thread and handed to the compiled step as numpy (the default, key 'numpy'), and where `device`
  is given also copied there by the prefetch thread (`train.prefetch_device`, key `device`). The variants alternate
  over `rounds` rounds of `steps` updates, each with a fresh prefetch thread; medians per variant. Unlike
  train_step, nothing waits for a step to finish before the next is handed over (only `update`'s end does)."""
  rng = np.random.RandomState(1)
  variants = {'numpy': None}
  if device:
    variants[device] = updates.batch_to_device(device)
  times = {name: [] for name in variants}
  with tempfile.TemporaryDirectory() as tmp:
    replay, episodes = replay_lib.Replay(tmp), random_batch(rng, 4, 2 * sizes['length'])
    for index in range(4):  # Four episodes of noise, twice a chunk long each.
      replay.add({key: value[index] for key, value in episodes.items()})
    for round_index in range(-1, rounds):  # Round -1 warms up (a first call compiles), untimed.
      for name, transform in variants.items():
        prefetch = replay_lib.Prefetcher(replay, sizes['batch'], sizes['length'], seed=round_index + 1,
                                         transform=transform)
        try:
          tic = time.perf_counter()
          updates.update(learner, prefetch, steps if round_index >= 0 else 1, round_index + 1)
          if round_index >= 0:
            times[name].append((time.perf_counter() - tic) / steps)
        finally:
          prefetch.close()
  return {name: float(np.median(values)) for name, values in times.items()}


def xla_env():
  return {key: os.environ[key] for key in ('XLA_FLAGS', 'TF_XLA_FLAGS') if os.environ.get(key)}


def run_context(jit, tiny, gin_files, gin_params):
  """What every record of a timing run carries: the machine, TensorFlow, the commit and the settings."""
  flags = {'jit_compile': jit, 'TF_ENABLE_ONEDNN_OPTS': os.environ.get('TF_ENABLE_ONEDNN_OPTS'), 'tiny': tiny,
           'gin_files': gin_files, 'gin_params': gin_params, **xla_env()}
  return dict(device=machine.describe(tf), host_cpu=machine.cpu_topology(), tf_version=tf.__version__, flags=flags,
              commit=machine.commit())


def median_time(fn, repeats):
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
