#!/usr/bin/env python
"""Timings of PlaNet's hot paths, each also read as a fraction of the device's dense-matmul FLOP rate.

  python scripts/benchmark.py [--out results/benchmarks/cpu.jsonl] [--jit] [--tasks cartpole,cheetah]
      [--episode_gin gin/quick.gin] [--tiny]

Prints one JSON line per figure (name, value, unit, device, TF version, flags) and a table at the end.
FLOP counts are computed from the layer sizes (`train_step_flops`, `plan_flops`): a multiply-add counts 2.
"""
import argparse
import json
import logging
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # pylint: disable=wrong-import-position

from planet import cli  # pylint: disable=wrong-import-position


def conv_flops(size_in, channels_in, channels_out, kernel, transpose):
  """2 x MACs of a stride-2 valid (transposed) convolution on a square input."""
  if transpose:
    return 2 * size_in * size_in * kernel * kernel * channels_in * channels_out
  size_out = (size_in - kernel) // 2 + 1
  return 2 * size_out * size_out * kernel * kernel * channels_in * channels_out


def frame_flops(depth, feature_size):
  """Forward FLOPs of encoder + decoder for one 64x64 frame (the World Models nets, App. A)."""
  encoder, size, channels = 0, 64, 3
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
    line = json.dumps(row)
    print(line, flush=True)
    if self._out:
      with open(self._out, 'a') as f:
        f.write(line + '\n')


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--out', default=None, help='append the JSON lines to this file')
  parser.add_argument('--jit', action='store_true', help='compile the hot functions with XLA')
  parser.add_argument('--tasks', default='cartpole,reacher,cheetah,finger,cup,walker')
  parser.add_argument('--episode_gin', default='gin/quick.gin',
                      help="overlay for the training-episode figure ('' for the paper's settings)")
  parser.add_argument('--gin_file', action='append', default=[],
                      help='extra overlay for every figure, e.g. gin/mixed_precision.gin (repeatable)')
  parser.add_argument('--gin_param', action='append', default=[], help='extra gin binding (repeatable)')
  parser.add_argument('--repeats', type=int, default=5)
  parser.add_argument('--tiny', action='store_true', help='tiny sizes (for tests of this script)')
  parser.add_argument('--skip', default='', help='comma-separated parts to skip: matmul,train,plan,env,episode')
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.WARNING)
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from planet import agent as agent_lib, envs, replay as replay_lib, training, world_model  # pylint: disable=import-outside-toplevel,multiple-imports

  device = cli.describe_device()
  try:
    commit = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True,
                            check=False).stdout.strip()
  except OSError:
    commit = ''
  flags = {'jit_compile': args.jit, 'TF_ENABLE_ONEDNN_OPTS': os.environ.get('TF_ENABLE_ONEDNN_OPTS'),
           'tiny': args.tiny, 'gin_files': args.gin_file, 'gin_params': args.gin_param}
  report = Report(args.out, dict(device=device, tf_version=tf.__version__, flags=flags, commit=commit))
  skip = set(filter(None, args.skip.split(',')))
  tiny = ['RSSM.deterministic_size = 16', 'RSSM.stochastic_size = 4', 'RSSM.hidden_size = 16',
          'Encoder.depth = 4', 'Decoder.depth = 4', 'RewardHead.units = 16', 'cem_plan.candidates = 20',
          'cem_plan.iterations = 2', 'train.batch_size = 2', 'train.chunk_length = 8',
          'train.collect_interval = 2', 'make_env.max_env_steps = 80'] if args.tiny else []
  jit = [f'Learner.jit_compile = {args.jit}', f'Agent.jit_compile = {args.jit}'] + args.gin_param
  cli.parse(['gin/cartpole.gin'] + args.gin_file, tiny + jit)
  q = lambda name: cli.query(name)
  sizes = dict(stoch=q('RSSM.stochastic_size'), deter=q('RSSM.deterministic_size'), hidden=q('RSSM.hidden_size'),
               depth=q('Encoder.depth'), reward_units=q('RewardHead.units'), reward_layers=q('RewardHead.layers'),
               batch=q('train.batch_size'), length=q('train.chunk_length'), action=1,
               candidates=q('cem_plan.candidates'), horizon=q('cem_plan.horizon'), iterations=q('cem_plan.iterations'))

  peak = None
  if 'matmul' not in skip:
    n = 512 if args.tiny else 4096
    a = tf.random.normal([n, n])
    matmul = tf.function(lambda x: tf.matmul(x, x), jit_compile=args.jit)
    matmul(a).numpy()
    seconds = _median_time(lambda: matmul(a).numpy(), args.repeats)
    peak = 2 * n ** 3 / seconds
    report.add('matmul_flop_rate', peak / 1e9, 'GFLOP/s', size=n)

  def rate(name, seconds, flops):
    extra = dict(flops=flops, gflop_per_s=round(flops / seconds / 1e9, 3))
    if peak:
      extra['fraction_of_matmul'] = round(flops / seconds / peak, 4)
    report.add(name, seconds, 's', **extra)

  rng = np.random.RandomState(0)
  model = world_model.WorldModel(1)
  learner = world_model.Learner(model, sizes['batch'], sizes['length'])
  agent = agent_lib.Agent(model)
  train_seconds = plan_seconds = None
  if 'train' not in skip:
    batch = {'image': rng.randint(0, 256, (sizes['batch'], sizes['length'], 64, 64, 3)).astype(np.uint8),
             'action': rng.uniform(-1, 1, (sizes['batch'], sizes['length'], 1)).astype(np.float32),
             'reward': rng.uniform(0, 1, (sizes['batch'], sizes['length'])).astype(np.float32)}
    seed = tf.constant([0, 1])
    tic = time.perf_counter()
    learner.train_step(batch, seed)['loss'].numpy()
    report.add('train_step_first_call', time.perf_counter() - tic, 's', batch=sizes['batch'],
               length=sizes['length'])
    learner.train_step(batch, seed)['loss'].numpy()
    train_seconds = _median_time(lambda: learner.train_step(batch, seed)['loss'].numpy(), args.repeats)
    rate('train_step', train_seconds, train_step_flops(sizes))
  if 'plan' not in skip:
    obs = {'image': rng.randint(0, 256, (64, 64, 3)).astype(np.uint8)}
    tic = time.perf_counter()
    agent.act(obs, np.array([0, 0]), True)
    report.add('plan_first_call', time.perf_counter() - tic, 's', candidates=sizes['candidates'])
    agent.act(obs, np.array([0, 1]), True)
    plan_seconds = _median_time(lambda: agent.act(obs, np.array([0, 2]), True), args.repeats * 2)
    rate('plan_call', plan_seconds, plan_flops(sizes))
  if 'env' not in skip:
    for task in args.tasks.split(','):
      env = envs.make_env(task, seed=0, action_repeat=envs.TASKS[task].action_repeat, max_env_steps=10 ** 6)
      env.reset()
      env.step(np.zeros(env.action_size))
      step = _median_time(lambda: env.step(rng.uniform(-1, 1, env.action_size)), args.repeats * 4)
      report.add(f'env_step_{task}', step, 's', action_repeat=env.action_repeat,
                 per_env_step=round(step / env.action_repeat, 6))
      env.close()
  if 'episode' not in skip:
    # One iteration of Algorithm 1 on cartpole: C updates + one collected episode (with its own overlay).
    cli.parse(['gin/cartpole.gin'] + ([args.episode_gin] if args.episode_gin else []) + args.gin_file, tiny + jit)
    import tempfile  # pylint: disable=import-outside-toplevel
    with tempfile.TemporaryDirectory() as tmp:
      env = envs.make_env('cartpole', seed=0)
      replay = replay_lib.Replay(tmp)
      random_agent = agent_lib.RandomAgent(env.action_size, rng)
      for i in range(2):
        replay.add(training.run_episode(env, random_agent, np.array([0, i]), True))
      model = world_model.WorldModel(env.action_size)
      learner = world_model.Learner(model, q('train.batch_size'), q('train.chunk_length'))
      agent = agent_lib.Agent(model)
      prefetch = replay_lib.Prefetcher(replay, q('train.batch_size'), q('train.chunk_length'), seed=0)
      steps = q('train.collect_interval')
      training._update(learner, prefetch, 1, 0)  # pylint: disable=protected-access
      agent.act(env.reset(), np.array([0, 0]), True)
      batch = next(prefetch)
      step_time = _median_time(lambda: learner.train_step(batch, tf.constant([0, 1]))['loss'].numpy(), 3)
      obs = env.reset()
      act_time = _median_time(lambda: agent.act(obs, np.array([0, 1]), True), 5)
      tic = time.perf_counter()
      training._update(learner, prefetch, steps, 0)  # pylint: disable=protected-access
      update_seconds = time.perf_counter() - tic
      tic = time.perf_counter()
      episode = training.run_episode(env, agent, np.array([0, 9]), True)
      collect_seconds = time.perf_counter() - tic
      prefetch.close()
      env.close()
    total = update_seconds + collect_seconds
    agent_steps = len(episode['reward']) - 1
    inside = steps * step_time + agent_steps * act_time
    report.add('training_episode_cartpole', total, 's', updates=steps, agent_steps=agent_steps,
               update_seconds=round(update_seconds, 3), collect_seconds=round(collect_seconds, 3),
               outside_compiled_share=round(max(0.0, 1 - inside / total), 4),
               overlay=args.episode_gin or 'paper')

  print('\n{:<28} {:>12} {:<8} {:>10}'.format('figure', 'value', 'unit', 'of matmul'))
  for row in report.rows:
    share = f"{100 * row['fraction_of_matmul']:.1f}%" if 'fraction_of_matmul' in row else ''
    print(f"{row['name']:<28} {row['value']:>12.4f} {row['unit']:<8} {share:>10}")
  print(f'device: {device}; TensorFlow {tf.__version__}; flags: {flags}')


if __name__ == '__main__':
  main()
