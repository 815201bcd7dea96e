"""Algorithm 1: S random seed episodes, then repeat {C model updates; collect one episode with the planner}
(one episode of each task per round for the one-agent-all-tasks setting of Figs. 6-7, after C updates per task).

A run directory holds everything needed to resume:
  train_episodes/, test_episodes/   one .npz per episode (the data; counters of episodes and env steps)
  checkpoints/                      model + optimizer (grad steps) after every collected episode
  metrics.jsonl, tensorboard/, videos/, operative_config.gin
All randomness is derived from (seed, counters), so a resumed run continues with fresh, reproducible seeds.
"""
import functools
import logging
import os
import time
import zlib

import gin
import numpy as np
import tensorflow as tf
import tqdm

from planet import agent as agent_lib
from planet import envs
from planet import logger as logger_lib
from planet import preprocess
from planet import replay as replay_lib
from planet import world_model as world_model_lib


class TrainingDiverged(RuntimeError):
  """A loss became NaN or infinite; the last good checkpoint is kept."""


def _seed(*parts):
  """A stateless [2] int32 seed from any parts (ints and strings), stable across runs and resumes."""
  digest = zlib.crc32(repr(parts).encode())
  return np.array([parts[0] if isinstance(parts[0], int) else 0, digest & 0x7FFFFFFF], np.int32)


def run_episode(env, policy, seed, explore):
  """One episode with `policy`; returns it as arrays (step 0: reset observation, zero action and reward)."""
  policy.reset()
  obs = env.reset(seed=int(seed[1]))
  steps = [dict(obs, action=np.zeros(env.action_size, np.float32), reward=np.float32(0))]
  done, t = False, 0
  while not done:
    action = policy.act(obs, _seed(int(seed[0]), int(seed[1]), t), explore)
    obs, reward, done, _ = env.step(action)
    steps.append(dict(obs, action=np.asarray(action, np.float32), reward=np.float32(reward)))
    t += 1
  return {key: np.stack([step[key] for step in steps]) for key in steps[0]}


def run_episode_retrying(env, policy, seed, explore, attempts=3):
  """`run_episode`, restarting a crashed environment worker up to `attempts` times."""
  for attempt in range(attempts):
    try:
      return run_episode(env, policy, seed, explore)
    except envs.EnvWorkerError as e:
      if attempt == attempts - 1:
        raise
      logging.warning('%s -- retrying the episode (%d/%d)', e, attempt + 1, attempts - 1)
  raise AssertionError('unreachable')


def _episode_return(episode):
  return float(episode['reward'].sum())


@gin.configurable(denylist=['logdir'])
def train(logdir, task=gin.REQUIRED, seed=0, total_episodes=1000, seed_episodes=5, collect_interval=100,
          batch_size=50, chunk_length=50, test_every=10, test_episodes=1, final_test_episodes=10,
          video_every=50, random_collection=False, multitask_tasks=tuple(envs.TASKS), progress=True):
  """Trains PlaNet on `task` in `logdir`, resuming from whatever the directory holds. Returns the metrics.

  `task='multitask'` trains one agent on `multitask_tasks` (Figs. 6-7): action spaces padded to the largest,
  one episode of each task per round, the task never told to the agent. C = `collect_interval` stays the number
  of updates per collected episode, so a round of N tasks does C x N updates (the authors' code: one episode per
  task every 30,000 samples = 600 updates of batch 50 for six tasks). Episode counts (`total_episodes`,
  `seed_episodes`, `test_every`) are per task.
  """
  os.makedirs(logdir, exist_ok=True)
  _write_atomically(os.path.join(logdir, 'config.gin'), gin.config_str())  # Reloaded by planet.evaluation.
  tasks = list(multitask_tasks) if task == 'multitask' else [task]
  env_list = [envs.make_env(name, seed=seed) for name in tasks]
  action_size = max(env.action_size for env in env_list)
  env_list = [envs.PaddedActions(env, action_size) for env in env_list]
  train_replay = replay_lib.Replay(os.path.join(logdir, 'train_episodes'))
  test_replay = replay_lib.Replay(os.path.join(logdir, 'test_episodes'))
  model = world_model_lib.WorldModel(action_size)
  learner = world_model_lib.Learner(model, batch_size, chunk_length)
  agent = agent_lib.Agent(model)
  random_agent = agent_lib.RandomAgent(action_size, np.random.RandomState(seed))
  checkpoint = tf.train.Checkpoint(model=model, optimizer=learner.optimizer)
  manager = tf.train.CheckpointManager(checkpoint, os.path.join(logdir, 'checkpoints'), max_to_keep=2)
  if manager.latest_checkpoint:
    checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    logging.info('resumed from %s: %d episodes, %d grad steps', manager.latest_checkpoint,
                 train_replay.num_episodes, int(learner.optimizer.step))
  metrics = logger_lib.MetricsLogger(logdir)
  open_loop = tf.function(functools.partial(world_model_lib.open_loop_prediction, model, context=5))
  # Per-task counters come from the episodes on disk: they are the truth after any crash.
  counts, env_steps = [0] * len(tasks), [0] * len(tasks)
  for episode in train_replay.episodes():
    index = int(episode['task'][0]) if 'task' in episode else 0
    counts[index] += 1
    env_steps[index] += (len(episode['reward']) - 1) * env_list[index].action_repeat

  start_time = time.time()
  wall_offset = (logger_lib.read_metrics(logdir) or [{}])[-1].get('wall_time', 0.0)
  bar = tqdm.tqdm(total=total_episodes * len(tasks), initial=sum(counts), disable=not progress,
                  desc=f'{task} episodes', dynamic_ncols=True)
  prefetch = None
  try:
    while min(counts) < total_episodes:
      # Tasks left behind by an interrupted round are collected first, without updates.
      behind = [i for i, count in enumerate(counts) if count == min(counts)]
      updates, timings = {}, {}
      if len(behind) == len(tasks) and min(counts) >= seed_episodes:
        # Lines 4-7: C updates per episode about to be collected, on chunks drawn uniformly from the dataset.
        if prefetch is None:
          prefetch = replay_lib.Prefetcher(train_replay, batch_size, chunk_length,
                                           seed=int(_seed(seed, 'replay', int(learner.optimizer.step))[1]))
        tic = time.time()
        updates = _update(learner, prefetch, collect_interval * len(tasks), seed)
        timings['update_time'] = time.time() - tic
      for index in behind:
        env, name = env_list[index], tasks[index]
        record = dict(updates)
        # Lines 8-16: collect one episode (random for the S seed episodes or with random collection).
        tic = time.time()
        use_planner = counts[index] >= seed_episodes and not random_collection
        policy = agent if use_planner else random_agent
        episode = run_episode_retrying(env, policy, _seed(seed, 'train', name, counts[index]), explore=True)
        episode['task'] = np.full(len(episode['reward']), index, np.int8)
        timings['collect_time'] = time.time() - tic
        train_replay.add(episode)
        counts[index] += 1
        env_steps[index] += (len(episode['reward']) - 1) * env.action_repeat
        episodes = counts[index]
        record.update(task=name, episodes=episodes, env_steps=env_steps[index],
                      agent_steps=env_steps[index] // env.action_repeat, all_episodes=sum(counts),
                      grad_steps=int(learner.optimizer.step), train_return=_episode_return(episode))
        # Test episodes without exploration noise (paper: test performance; 10 trajectories at the end).
        count = final_test_episodes if episodes == total_episodes else (
            test_episodes if episodes >= seed_episodes and episodes % test_every == 0 else 0)
        if count:
          tic = time.time()
          returns = []
          for k in range(count):
            test = run_episode_retrying(env, agent, _seed(seed, 'test', name, episodes, k), explore=False)
            test['task'] = np.full(len(test['reward']), index, np.int8)
            test_replay.add(test)
            returns.append(_episode_return(test))
          record.update(test_return=float(np.mean(returns)), test_returns=returns)
          timings['test_time'] = time.time() - tic
          videos = bool(video_every) and (episodes % video_every == 0 or episodes == total_episodes)
          record.update(_open_loop_check(logdir, open_loop, test, episodes, metrics, seed,
                                         f'{name}_' if len(tasks) > 1 else '', videos))
        manager.save(checkpoint_number=sum(counts))
        _write_atomically(os.path.join(logdir, 'operative_config.gin'), gin.operative_config_str())
        record.update(timings, wall_time=wall_offset + time.time() - start_time)
        metrics.write(record, step=sum(counts))
        updates, timings = {}, {}
        bar.update(1)
        bar.set_postfix({k: f'{record[k]:.3g}' for k in ('train_return', 'test_return', 'loss') if k in record})
  finally:
    bar.close()
    if prefetch is not None:
      prefetch.close()
    for env in env_list:
      env.close()
  return logger_lib.read_metrics(logdir)


def _write_atomically(path, text):
  with open(path + '.tmp', 'w') as f:
    f.write(text)
  os.replace(path + '.tmp', path)


def _update(learner, prefetch, steps, seed):
  """`steps` compiled train steps; mean of each loss term. Raises TrainingDiverged on a NaN/inf loss."""
  outputs = []
  start = int(learner.optimizer.step)  # Read once: reading it every step would stall a GPU's queue.
  for step in range(start, start + steps):
    batch = next(prefetch)
    outputs.append(learner.train_step(batch, tf.constant(_seed(seed, 'update', step), tf.int32)))
  values = {key: np.array([out[key].numpy() for out in outputs]) for key in outputs[0]}
  bad = np.flatnonzero(~np.isfinite(values['loss']))
  if bad.size:
    step = start + int(bad[0]) + 1
    raise TrainingDiverged(
        f'the loss became {values["loss"][bad[0]]} at grad step {step}; stopping. The last good checkpoint '
        '(the previous episode) is kept: lower the learning rate or check the data, then rerun to resume.')
  return {key: float(value.mean()) for key, value in values.items()}


def _open_loop_check(logdir, open_loop, episode, episodes, metrics, seed, prefix='', write_videos=False):
  """Open-loop prediction error on a test episode (5 context frames, then open loop from the actions, Fig. 10);
  with `write_videos`, GIFs of the episode and of truth / prediction / difference, and a TensorBoard strip."""
  length = min(len(episode['reward']), 55)
  batch = {'image': episode['image'][None, :length], 'action': episode['action'][None, :length]}
  truth, prediction = open_loop(batch, seed=tf.constant(_seed(seed, 'video', episodes), tf.int32))
  truth, prediction = truth.numpy()[0], prediction.numpy()[0]
  if write_videos:
    video_dir = os.path.join(logdir, 'videos')
    logger_lib.write_gif(os.path.join(video_dir, f'{prefix}test_{episodes:06d}.gif'), episode['image'])
    frames = np.concatenate(list(preprocess.comparison(truth, prediction)), 1)
    logger_lib.write_gif(os.path.join(video_dir, f'{prefix}openloop_{episodes:06d}.gif'), frames)
    metrics.image(f'{prefix}openloop', np.concatenate(list(frames[::5]), 1), step=episodes)
  # Mean squared error per pixel channel in model space ([-0.5, 0.5]), over the open-loop frames only.
  return {'openloop_mse': float(np.square(prediction[5:] - truth[5:]).mean())}
