"""Timings of PlaNet's hot paths (scripts/benchmark.py), each also read as a fraction of the device's dense-matmul
FLOP rate (planet.measure.flops). Every figure is one JSON line (name, value, unit, device, TF version, flags)."""
import functools
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from planet import agent as agent_lib
from planet import config as config_lib
from planet import envs
from planet import gin_text
from planet import machine
from planet import networks
from planet import replay as replay_lib
from planet import rollout
from planet import tasks as tasks_lib
from planet import updates
from planet import world_model
from planet.experiments import records
from planet.measure import flops
from planet.measure import timing

# Parts of `run` that can be skipped.
PARTS = ('matmul', 'train', 'parts', 'plan', 'updates', 'env', 'episode')


def run(out=None, jit=False, tasks=None, episode_gin='gin/quick.gin', gin_files=(), gin_params=(), repeats=5,
        tiny=False, skip=(), profile=False, committed_dir=records.COMMITTED_DIR):
  """Measures every part not in `skip` (PARTS, in that order: they share one random generator); prints and returns
  the records (also appended to `out`), then the committed records of every machine beside this run's.

  `tiny` adds gin/debug.gin's sizes (for tests). `episode_gin` is the overlay of the training-episode figure.
  `profile` adds the plan call's time by op type (`profile_ops`) as one record.
  """
  gin_files, gin_params = list(gin_files), list(gin_params)
  context = timing.run_context(jit, tiny, gin_files, gin_params)
  report = timing.Report(out, context)
  skip = set(skip)
  timing.parse_config(jit, tiny, gin_files, gin_params)
  sizes = _sizes()
  peak = None if 'matmul' in skip else _matmul(report, 512 if tiny else 4096, jit, repeats)
  rate = functools.partial(_add_rate, report, peak)
  rng = np.random.RandomState(0)
  model = world_model.WorldModel(1)
  learner = world_model.Learner(model, sizes['batch'], sizes['length'])
  agent = agent_lib.Agent(model)
  train_seconds = None if 'train' in skip else _train_step(report, rate, learner, sizes, rng, repeats)
  if 'parts' not in skip:
    for part, seconds in timing.train_step_parts(model, sizes, jit, repeats, rng).items():
      share = {'share_of_step': round(seconds / train_seconds, 4)} if train_seconds else {}
      report.add(f'train_{part}', seconds, 's', **share)
  if 'plan' not in skip:
    _plan_call(report, rate, agent, sizes, rng, repeats, jit, profile)
  if 'updates' not in skip:  # After the plan call: these updates change the weights the planner would use.
    _update_steps(report, learner, sizes, repeats)
  if 'env' not in skip:
    _env_steps(report, list(tasks or tasks_lib.names()), rng, repeats)
  if 'episode' not in skip:
    episode_files = ['gin/cartpole.gin'] + ([episode_gin] if episode_gin else []) + (['gin/debug.gin'] if tiny else [])
    config_lib.parse(episode_files + gin_files, [f'Learner.jit_compile = {jit}', f'Agent.jit_compile = {jit}'] +
                     gin_params)
    _training_episode(report, rng, episode_gin or 'paper')
  memory = machine.gpu_memory_peak_mib(tf)
  if memory is not None:  # On a GPU: the most memory TensorFlow held for everything measured above.
    report.add('gpu_memory_peak', memory, 'MiB')
  differs = (['XLA'] if jit else []) + (['tiny sizes'] if tiny else []) + gin_files + gin_params
  _print(report, context['device'], context['flags'], differs, committed_dir)
  return report.rows


def _sizes():
  """The sizes flops.py needs, from the parsed configuration (one action dimension: the benchmark's model)."""
  q = config_lib.query
  return dict(stoch=q('RSSM.stochastic_size'), deter=q('RSSM.deterministic_size'), hidden=q('RSSM.hidden_size'),
              depth=q('Encoder.depth'), reward_units=q('RewardHead.units'), reward_layers=q('RewardHead.layers'),
              batch=q('train.batch_size'), length=q('train.chunk_length'), action=1,
              candidates=q('cem_plan.candidates'), horizon=q('cem_plan.horizon'),
              iterations=q('cem_plan.iterations'))


def _matmul(report, n, jit, repeats):
  """The device's dense float32 matmul rate at n x n (FLOP/s): the yardstick of every `fraction_of_matmul`."""
  a = tf.random.normal([n, n])
  # Only a scalar comes back: copying the 64 MiB product to the host would take a GPU longer than the matmul.
  matmul = tf.function(lambda x: tf.reduce_sum(tf.matmul(x, x)), jit_compile=jit)
  matmul(a).numpy()
  seconds = timing.median_time(lambda: matmul(a).numpy(), repeats)
  peak = 2 * n ** 3 / seconds
  report.add('matmul_flop_rate', peak / 1e9, 'GFLOP/s', size=n)
  return peak


def _add_rate(report, peak, name, seconds, flops_done, **more):
  """A timing with the FLOP rate it reaches, and its fraction of the matmul rate when that was measured."""
  extra = dict(flops=flops_done, gflop_per_s=round(flops_done / seconds / 1e9, 3), **more)
  if peak:
    extra['fraction_of_matmul'] = round(flops_done / seconds / peak, 4)
  report.add(name, seconds, 's', **extra)


def _train_step(report, rate, learner, sizes, rng, repeats):
  """The compiled train step on a random batch (first call, then the median); returns the median seconds."""
  batch = timing.random_batch(rng, sizes['batch'], sizes['length'])
  seed = tf.constant([0, 1])
  tic = time.perf_counter()
  learner.train_step(batch, seed)['loss'].numpy()
  report.add('train_step_first_call', time.perf_counter() - tic, 's', batch=sizes['batch'], length=sizes['length'])
  learner.train_step(batch, seed)['loss'].numpy()
  seconds = timing.median_time(lambda: learner.train_step(batch, seed)['loss'].numpy(), repeats)
  rate('train_step', seconds, flops.train_step_flops(sizes))
  # The same compiled step with the batch already where the step runs (on a GPU: in its memory), so the
  # difference is what copying a numpy batch in costs; on a CPU both are the same.
  resident = {key: tf.identity(value) for key, value in batch.items()}
  resident_seconds = timing.median_time(lambda: learner.train_step(resident, seed)['loss'].numpy(), repeats)
  rate('train_step_device_batch', resident_seconds, flops.train_step_flops(sizes),
       input_copy_share=round(1 - resident_seconds / seconds, 4), batch_on=resident['image'].device)
  return seconds


def _plan_call(report, rate, agent, sizes, rng, repeats, jit, profile):
  """The plan call on a random image (first call, median), the same matmuls alone, and optionally its profile."""
  obs = {'image': rng.randint(0, 256, networks.IMAGE_SHAPE).astype(np.uint8)}
  tic = time.perf_counter()
  agent.act(obs, np.array([0, 0]), True)
  report.add('plan_first_call', time.perf_counter() - tic, 's', candidates=sizes['candidates'])
  agent.act(obs, np.array([0, 1]), True)
  seconds = timing.median_time(lambda: agent.act(obs, np.array([0, 2]), True), repeats * 2)
  # The floor without changing what is computed: the same matmuls, alone. The plan call's share of it says how
  # much of the call is the matmuls' own speed on this machine and how much the ops around them.
  alone = timing.matmuls_alone(flops.plan_matmuls(sizes), repeats, jit)
  rate('plan_matmuls_alone', alone, flops.plan_flops(sizes))
  rate('plan_call', seconds, flops.plan_flops(sizes), matmuls_alone_share=round(alone / seconds, 4))
  if not profile:
    return
  with tempfile.TemporaryDirectory() as logdir:
    ops = timing.profile_ops(lambda: agent.act(obs, np.array([0, 3]), True), 3, logdir)
  busy = sum(ms for op, ms in ops if op != 'IDLE')
  report.add('plan_call_op_profile', busy, 'ms', ops={op: round(ms, 2) for op, ms in ops})
  print(f'plan call by op type (self time summed over threads, ms per call; {busy:.0f} ms busy):')
  for op, ms in ops[:15]:
    print(f"  {op:<34} {ms:9.1f}" + (f'  {100 * ms / busy:5.1f}% of busy' if op != 'IDLE' else ''))


def _update_steps(report, learner, sizes, repeats):
  """Train steps fed by the prefetcher: from numpy, and (on a GPU) prefetched onto the device."""
  gpus = tf.config.list_logical_devices('GPU')
  steps, rounds = (50, 3) if gpus else (max(1, repeats), 2)
  times = timing.update_times(learner, sizes, steps, rounds, gpus[0].name if gpus else None)
  report.add('update_step', times.pop('numpy'), 's', steps=steps, rounds=rounds)
  for where, seconds in times.items():
    report.add('update_step_prefetch_device', seconds, 's', prefetch_device=where, steps=steps, rounds=rounds)


def _env_steps(report, tasks, rng, repeats):
  """One agent step (action repeat included, rendering the image) of each task's environment."""
  for task in tasks:
    env = envs.make_env(task, seed=0, action_repeat=tasks_lib.get(task).action_repeat, max_env_steps=10 ** 6)
    env.reset()
    env.step(np.zeros(env.action_size))
    step = timing.median_time(lambda env=env: env.step(rng.uniform(-1, 1, env.action_size)), repeats * 4)
    report.add(f'env_step_{task}', step, 's', action_repeat=env.action_repeat,
               per_env_step=round(step / env.action_repeat, 6))
    env.close()


def _training_episode(report, rng, overlay):
  """One iteration of Algorithm 1 on cartpole with the parsed configuration: C updates and one collected episode,
  and the share of it spent outside the compiled train step and plan call."""
  q = config_lib.query
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
    updates.update(learner, prefetch, 1, 0)
    agent.act(env.reset(), np.array([0, 0]), True)
    batch = next(prefetch)
    step_time = timing.median_time(lambda: learner.train_step(batch, tf.constant([0, 1]))['loss'].numpy(), 3)
    obs = env.reset()
    act_time = timing.median_time(lambda: agent.act(obs, np.array([0, 1]), True), 5)
    tic = time.perf_counter()
    updates.update(learner, prefetch, steps, 0)
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
             outside_compiled_share=round(max(0.0, 1 - inside / total), 4), overlay=overlay)


def _print(report, device, flags, differs, committed_dir):
  """The records as a table, then beside the committed records of every machine."""
  print('\n{:<28} {:>12} {:<8} {:>10}'.format('figure', 'value', 'unit', 'of matmul'))
  for row in report.rows:
    share = f"{100 * row['fraction_of_matmul']:.1f}%" if 'fraction_of_matmul' in row else ''
    print(f"{row['name']:<28} {row['value']:>12.4f} {row['unit']:<8} {share:>10}")
  print(f'device: {device}; TensorFlow {tf.__version__}; flags: {flags}')
  label = f'this run: {device}' + (f" ({', '.join(differs)})" if differs else '')
  columns = {label: {row['name']: row for row in report.rows}}
  columns.update(records.committed(committed_dir))
  print(f'\nthis run beside the committed records ({os.path.relpath(committed_dir, gin_text.REPO_ROOT)}, newest per '
        'machine, default settings; (x%) = fraction of that machine\'s matmul rate, @ = commit):')
  print('\n'.join(records.side_by_side(columns)))
