"""Algorithm 1: S random seed episodes, then repeat {C model updates; collect one episode with the planner}
(one episode of each task per round for the one-agent-all-tasks setting of Figs. 6-7, after C updates per task).

`Trainer.run` reads like the algorithm: named phases (update, collect, test, save) whose timing the small
`Every` clocks decide. A run directory holds everything needed to resume:
  train_episodes/, test_episodes/   one .npz per episode (the data; counters of episodes and env steps)
  checkpoints/                      model + optimizer (grad steps) after every collected episode
  metrics.jsonl, tensorboard/, videos/, config.gin, operative_config.gin
All randomness is derived from (seed, counters), so a resumed run continues with fresh, reproducible seeds.
"""
import contextlib
import functools
import logging
import os
import signal
import threading
import time

import gin
import numpy as np
import tensorflow as tf

from planet import agent as agent_lib
from planet import checkpoint as checkpoint_lib
from planet import envs
from planet import logger as logger_lib
from planet import machine
from planet import preprocess
from planet import replay as replay_lib
from planet import rollout
from planet import run_identity
from planet import rundir
from planet import tasks as tasks_lib
from planet import updates
from planet import world_model as world_model_lib
from planet import wrappers


class SetupError(RuntimeError):
  """The run could not start (e.g. an environment that cannot render); nothing was collected."""


def _episode_return(episode):
  return float(episode['reward'].sum())


class Every:
  """A clock for schedules in episodes: true at every `interval`-th count (never for 0 or None)."""

  def __init__(self, interval):
    self.interval = interval

  def __call__(self, count):
    return bool(self.interval) and count % self.interval == 0


@gin.configurable(denylist=['logdir', 'progress', 'command'])
def train(logdir, task=gin.REQUIRED, seed=0, total_episodes=1000, seed_episodes=5, collect_interval=100,
          batch_size=50, chunk_length=50, test_every=10, test_episodes=1, final_test_episodes=10,
          video_every=50, random_collection=False, multitask_tasks=None, progress=True, command=None,
          prefetch_device=None):
  """Trains PlaNet on `task` in `logdir`, resuming from whatever the directory holds. Returns the metrics.

  `task='multitask'` trains one agent on `multitask_tasks` (default: every registered task; Figs. 6-7): action
  spaces padded to the largest, one episode of each task per round, the task never told to the agent.
  C = `collect_interval` stays the number of updates per collected episode, so a round of N tasks does C x N
  updates (the authors' code: one episode per task every 30,000 samples = 600 updates of batch 50 for six
  tasks). Episode counts (`total_episodes`, `seed_episodes`, `test_every`) are per task.

  The run directory is locked for the run (rundir.RunDirBusy for a second writer) and must hold the same
  experiment (rundir.RunDirError otherwise); a complete run returns at once. `command` (a line of provenance) is
  appended to <logdir>/command.txt when training starts or resumes. `prefetch_device` (e.g. '/GPU:0') has the
  replay's prefetch thread copy each batch there, so that the copy overlaps the train step before it instead of
  delaying the next (the same numbers; off by default, not measured on a GPU yet).
  """
  names = task_list(task, multitask_tasks)
  lock = rundir.prepare(logdir)  # One writer per run directory.
  try:
    run_identity.check_same_experiment(logdir, gin.config_str())
    done = episodes_on_disk(logdir)
    if done >= total_episodes * len(names):
      logging.info('%s is complete: %d of %d episodes; nothing to do', logdir, done, total_episodes * len(names))
      return logger_lib.read_metrics(logdir)
    if command:
      with open(rundir.RunDir(logdir).command, 'a') as f:
        f.write(command + '\n')
    try:
      trainer = Trainer(logdir, task, names, seed=seed, batch_size=batch_size, chunk_length=chunk_length,
                        prefetch_device=prefetch_device)
    except envs.EnvWorkerError as e:
      raise SetupError(str(e)) from e
    try:
      return trainer.run(total_episodes, seed_episodes, collect_interval, test_every, test_episodes,
                         final_test_episodes, video_every, random_collection, progress)
    finally:
      trainer.close()
  except OSError as e:  # A full disk (starting, or saving an episode, which is then dropped): one line, resumable.
    raise (rundir.storage_error(e, logdir) or e) from e
  finally:
    lock.release()


def episodes_on_disk(logdir):
  """Collected training episodes in a run directory (all tasks together)."""
  return rundir.RunDir(logdir).episodes_done()


def task_list(task, multitask_tasks=None):
  """The tasks a run trains on: `[task]`, or for 'multitask' the given ones (default: every registered task)."""
  return list(multitask_tasks or tasks_lib.names()) if task == 'multitask' else [task]


class Trainer:
  """The parts of a run (envs, replays, model, learner, agents, checkpoint) and the phases of Algorithm 1."""

  def __init__(self, logdir, name, task_names, seed, batch_size, chunk_length, prefetch_device=None):
    os.makedirs(logdir, exist_ok=True)
    self.layout = rundir.RunDir(logdir)
    rundir.write_atomically(self.layout.config, gin.config_str())  # Reloaded by evaluation.
    self.logdir, self.name, self.tasks, self.seed = logdir, name, task_names, seed
    self.batch_size, self.chunk_length = batch_size, chunk_length
    self.prefetch_device = prefetch_device
    self.envs = [envs.make_env(task, seed=seed) for task in task_names]
    action_size = max(env.action_size for env in self.envs)
    self.envs = [wrappers.PaddedActions(env, action_size) for env in self.envs]
    self.train_replay = replay_lib.Replay(self.layout.train_episodes)
    self.test_replay = replay_lib.Replay(self.layout.test_episodes)
    tf.random.set_seed(seed)  # The initial weights: the same run seed gives the same model.
    self.model = world_model_lib.WorldModel(action_size)
    self.learner = world_model_lib.Learner(self.model, batch_size, chunk_length)
    self.agent = agent_lib.Agent(self.model)
    self.random_agent = agent_lib.RandomAgent(action_size, np.random.RandomState(seed))
    self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.learner.optimizer)
    self.manager = checkpoint_lib.manager(self.checkpoint, logdir)
    restored = checkpoint_lib.restore(self.checkpoint, self.manager, logdir)
    if restored:
      logging.info('resumed from %s: %d episodes, %d grad steps', restored, self.train_replay.num_episodes,
                   int(self.learner.optimizer.step))
    self.metrics = logger_lib.MetricsLogger(logdir)
    self.open_loop = tf.function(functools.partial(world_model_lib.open_loop_prediction, self.model,
                                                   context=world_model_lib.OPEN_LOOP_CONTEXT), autograph=False)
    # Per-task counters come from the episodes on disk: they are the truth after any crash.
    self.counts, self.env_steps = [0] * len(task_names), [0] * len(task_names)
    for episode in self.train_replay.episodes():
      index = int(episode['task'][0]) if 'task' in episode else 0
      self.counts[index] += 1
      self.env_steps[index] += (len(episode['reward']) - 1) * self.envs[index].action_repeat
    self.prefetch = None
    self.last_record = {}

  def run(self, total_episodes, seed_episodes, collect_interval, test_every, test_episodes, final_test_episodes,
          video_every, random_collection, progress):
    """Algorithm 1 until every task has `total_episodes`; returns the run's metrics. Each phase adds its figures to
    the episode's one metrics record."""
    test_clock, video_clock = Every(test_every), Every(video_every)
    start_time = time.time()
    wall_offset = (logger_lib.read_metrics(self.logdir) or [{}])[-1].get('wall_time', 0.0)
    total = total_episodes * len(self.tasks)
    bar = logger_lib.EpisodeProgress(self.name, total, sum(self.counts), progress, len(self.tasks))
    try:
      while min(self.counts) < total_episodes:
        # Tasks left behind by an interrupted round are collected first, without updates.
        behind = [i for i, count in enumerate(self.counts) if count == min(self.counts)]
        record = {}
        if len(behind) == len(self.tasks) and min(self.counts) >= seed_episodes:
          # Lines 4-7: C updates per episode about to be collected.
          steps = collect_interval * len(self.tasks)
          self.update_phase(steps, record, bar.on_update(steps))
        for index in behind:
          # Lines 8-16: one episode, random for the S seed episodes (and with random collection).
          random = self.counts[index] < seed_episodes or random_collection
          episode = self.collect_phase(index, random, record)
          episodes = record['episodes']
          final = episodes == total_episodes
          count = final_test_episodes if final else (
              test_episodes if episodes >= seed_episodes and test_clock(episodes) else 0)
          tests = []
          if count:
            tests = self.test_phase(index, episodes, count, bool(video_every) and (video_clock(episodes) or final),
                                    record)
          self.save_phase(index, episode, tests, record, lambda: wall_offset + time.time() - start_time)
          bar.episode_done(self.last_record, sum(self.counts), planned=not random)
          record = {}
    finally:
      bar.close()
    return logger_lib.read_metrics(self.logdir)

  def update_phase(self, steps, record, on_step=None):
    """`steps` train steps on chunks drawn uniformly from the dataset; adds the mean loss terms and `update_time`
    to `record`. `on_step(k)` is called after the k-th step (progress display)."""
    if self.prefetch is None:
      self.prefetch = replay_lib.Prefetcher(
          self.train_replay, self.batch_size, self.chunk_length,
          seed=int(rollout.derive_seed(self.seed, 'replay', int(self.learner.optimizer.step))[1]),
          transform=updates.batch_to_device(self.prefetch_device) if self.prefetch_device else None)
    tic = time.time()
    record.update(updates.update(self.learner, self.prefetch, steps, self.seed, on_step))
    record['update_time'] = time.time() - tic

  def collect_phase(self, index, random, record):
    """One training episode of task `index` (random actions, or the planner with exploration noise), its figures
    added to `record`. Returns the episode; save_phase stores both."""
    env, name = self.envs[index], self.tasks[index]
    tic = time.time()
    policy = self.random_agent if random else self.agent
    parts = {}
    seed = rollout.derive_seed(self.seed, 'train', name, self.counts[index])
    episode = rollout.run_episode_retrying(env, policy, seed, explore=True, timings=parts)
    episode['task'] = np.full(len(episode['reward']), index, np.int8)
    collect_time = time.time() - tic
    env_steps = self.env_steps[index] + (len(episode['reward']) - 1) * env.action_repeat
    record.update(task=name, episodes=self.counts[index] + 1, env_steps=env_steps,
                  agent_steps=env_steps // env.action_repeat, all_episodes=sum(self.counts) + 1,
                  grad_steps=int(self.learner.optimizer.step), train_return=_episode_return(episode),
                  collect_time=collect_time, **parts)
    return episode

  def test_phase(self, index, episodes, count, videos, record):
    """`count` test episodes without exploration noise (Table 1: 10 at the end) after training episode
    `episodes` of task `index`, and the open-loop check, their figures added to `record`. Returns the episodes."""
    env, name = self.envs[index], self.tasks[index]
    tic = time.time()
    tests = []
    for k in range(count):
      seed = rollout.derive_seed(self.seed, 'test', name, episodes, k)
      test = rollout.run_episode_retrying(env, self.agent, seed, explore=False)
      test['task'] = np.full(len(test['reward']), index, np.int8)
      tests.append(test)
    returns = [_episode_return(test) for test in tests]
    record.update(test_return=float(np.mean(returns)), test_returns=returns, test_time=time.time() - tic)
    record.update(_open_loop_check(self.logdir, self.open_loop, tests[-1], episodes, self.metrics, self.seed,
                                   f'{name}_' if len(self.tasks) > 1 else '', videos))
    return tests

  def save_phase(self, index, episode, tests, record, wall_time):
    """The checkpoint, the operative configuration, the metrics line, then the episode files, which count the
    episode as done (the counters come from them). A Ctrl-C meanwhile takes effect after all of them. A kill
    before the episode file makes the resume redo the episode, whose metrics line then comes again: readers keep
    the last line per episode (rundir.last_per_episode)."""
    with _deferred_interrupts():
      checkpoint_lib.save(self.manager, sum(self.counts) + 1)
      rundir.write_atomically(self.layout.operative_config, gin.operative_config_str())
      for key in logger_lib.PHASE_TIMES:  # The phases' times close the line, after every figure.
        if key in record:
          record[key] = record.pop(key)
      record['wall_time'] = wall_time()
      peak = machine.gpu_memory_peak_mib(tf)
      if peak is not None:
        record['gpu_peak_mib'] = round(peak)
      self.metrics.write(record, step=sum(self.counts) + 1)
      for test in tests:
        self.test_replay.add(test)
      self.train_replay.add(episode)
      self.counts[index] += 1
      self.env_steps[index] = record['env_steps']
    self.last_record = record

  def close(self):
    if self.prefetch is not None:
      self.prefetch.close()
    for env in self.envs:
      env.close()


@contextlib.contextmanager
def _deferred_interrupts():
  """Ctrl-C and SIGTERM received inside the block raise KeyboardInterrupt after it (main thread only)."""
  if threading.current_thread() is not threading.main_thread():
    yield
    return
  received = []
  previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum))
              for sig in (signal.SIGINT, signal.SIGTERM)}
  try:
    yield
  finally:
    for sig, handler in previous.items():
      signal.signal(sig, handler)
  if received:
    raise KeyboardInterrupt


def _open_loop_check(logdir, open_loop, episode, episodes, metrics, seed, prefix='', write_videos=False):
  """Open-loop prediction error on a test episode (5 context frames, then open loop from the actions, Fig. 10);
  with `write_videos`, GIFs of the episode and of truth / prediction / difference, and a TensorBoard strip."""
  context = world_model_lib.OPEN_LOOP_CONTEXT
  length = min(len(episode['reward']), context + world_model_lib.OPEN_LOOP_HORIZON)
  batch = {'image': episode['image'][None, :length], 'action': episode['action'][None, :length]}
  truth, prediction = open_loop(batch, seed=tf.constant(rollout.derive_seed(seed, 'video', episodes), tf.int32))
  truth, prediction = truth.numpy()[0], prediction.numpy()[0]
  if write_videos:
    video_dir = rundir.RunDir(logdir).videos
    logger_lib.write_gif(os.path.join(video_dir, f'{prefix}test_{episodes:06d}.gif'), episode['image'])
    frames = np.concatenate(list(preprocess.comparison(truth, prediction)), 1)
    logger_lib.write_gif(os.path.join(video_dir, f'{prefix}openloop_{episodes:06d}.gif'), frames)
    metrics.image(f'{prefix}openloop', np.concatenate(list(frames[::5]), 1), step=episodes)
  # Mean squared error per pixel channel in model space ([-0.5, 0.5]), over the open-loop frames only.
  return {'openloop_mse': float(np.square(prediction[context:] - truth[context:]).mean())}
