"""Episodes of CEM with the true simulator (planet.experiments.true_sim), as scripts/true_sim.py and the sweep's jobs
play them.

Records go to <out>/<task>.jsonl, one line per episode; a rerun skips the (setting, episode) pairs already there,
and those another process is playing.
An episode saves its progress after every agent step (<out>/jobs/<task>/<job>.json.partial) and a rerun continues
it where it stopped, with the same random draws (play_episode).
"""
import json
import logging
import os
import sys
import time

import numpy as np
import tqdm

from planet import cli
from planet import rundir
from planet import tasks as tasks_lib
from planet.experiments import matrix
from planet.experiments import true_sim


def play_episode(sim, settings, seed, progress=None, std_estimator='std', warm_start=False, checkpoint=None,
                 info=None):
  """One episode planned with the true simulator; returns the episode return.

  Algorithm 2 restarts CEM from Normal(0, I) at every step. `warm_start=True` (not in the paper; a probe of the
  sparse-reward tasks) starts each step's search from the previous plan shifted by one step, with unit spread.
  `checkpoint`: a file that holds the episode so far after every agent step (the actions taken, the random
  generator's state, the warm-start plan). A call that finds it replays those actions in the env (MuJoCo is
  deterministic) and goes on with the same random draws as an episode that never stopped; if the replay does not
  reproduce the saved return (another physics build), the episode starts over. The file is removed at the end.
  `info`, a dict, receives at the end `resumed_at` (the agent steps that resumes continued from; empty if none),
  `seconds` (the episode's time, that before any resumes included) and the planner's view of a sparse reward:
  `blind_steps`, the agent steps at which no candidate of any CEM iteration returned more than zero (None when the
  episode resumed from a checkpoint that did not count them), and `first_reward_step`, the first agent step (from
  1) whose reward was above zero (None if none).
  """
  tic, rng = time.time(), np.random.RandomState(seed)
  identity = dict(task=sim.task, settings=list(settings), std_estimator=std_estimator, warm_start=warm_start,
                  seed=seed, steps=sim.max_env_steps // sim.action_repeat)
  sim.reset(seed)
  total, done, init, actions, seconds_before, resumes, seen = _resume(sim, seed, rng, checkpoint, identity)
  if progress is not None:
    progress.update(len(actions))
  while not done:
    stats = {}
    plan = true_sim.cem_plan(sim, sim.state(), settings, rng, std_estimator, init, stats)
    reward, done = sim.step(plan[0])
    if warm_start:
      init = np.concatenate([plan[1:], np.zeros_like(plan[:1])])
    total += reward
    actions.append(plan[0].tolist())
    if seen['blind_steps'] is not None and not any(stats['scoring']):
      seen['blind_steps'] += 1
    if seen['first_reward_step'] is None and reward > 0:
      seen['first_reward_step'] = len(actions)
    if checkpoint and not done:
      name, keys, pos, has_gauss, cached = rng.get_state()
      rundir.write_atomically(checkpoint, json.dumps(dict(
          identity, actions=actions, total=total, resumed_at=resumes, init=None if init is None else init.tolist(),
          rng=[name, keys.tolist(), pos, has_gauss, cached], seconds=seconds_before + time.time() - tic,
          blind_steps=seen['blind_steps'])))  # first_reward_step: found again by the resume's replay.
    if progress is not None:
      progress.update(1)
  if checkpoint and os.path.exists(checkpoint):
    os.remove(checkpoint)
  if info is not None:
    info.update(resumed_at=resumes, seconds=seconds_before + time.time() - tic, **seen)
  return total


def _resume(sim, seed, rng, checkpoint, identity):
  """(return so far, done, warm-start plan, actions taken, seconds spent, resumed_at, planner counts) of the
  episode saved at `checkpoint`, its actions replayed in `sim` and `rng` set to its state; a fresh start's if there
  is none or the replay does not reproduce the saved return."""
  fresh = (0.0, False, None, [], 0.0, [], dict(blind_steps=0, first_reward_step=None))
  saved = _read_checkpoint(checkpoint, identity)
  if not saved:
    return fresh
  total, done, first_reward = 0.0, False, None
  for step, action in enumerate(saved['actions'], 1):
    reward, done = sim.step(np.array(action))
    total += reward
    first_reward = first_reward or (step if reward > 0 else None)
  if not np.isclose(total, saved['total'], rtol=1e-9, atol=1e-9) or done:
    logging.warning('%s: replaying its %d saved actions gave return %r, not the saved %r; starting the episode '
                    'over', checkpoint, len(saved['actions']), total, saved['total'])
    sim.reset(seed)
    return fresh
  name, keys, *rest = saved['rng']
  rng.set_state((name, np.array(keys, np.uint32), *rest))
  init = None if saved['init'] is None else np.array(saved['init'])
  # Checkpoints written before the planner was counted have no blind_steps: unknown for the episode.
  seen = dict(blind_steps=saved.get('blind_steps'), first_reward_step=first_reward)
  return total, done, init, saved['actions'], saved['seconds'], saved['resumed_at'] + [len(saved['actions'])], seen


class CheckpointMismatch(ValueError):
  """The checkpoint file of an episode holds another episode (other task, setting, seed or refit)."""


def _read_checkpoint(path, identity):
  """The saved part of an episode at `path` (see play_episode), or None. One of another episode is refused."""
  if not path or not os.path.exists(path):
    return None
  with open(path) as f:
    saved = json.load(f)
  differing = sorted(key for key, value in identity.items() if saved.get(key) != value)
  if differing:
    raise CheckpointMismatch(f'{path} is the checkpoint of another episode (differs in {", ".join(differing)}); '
                             'move it away to start this one')
  return saved


def run(task, settings, episodes, out_dir, threads=None, progress=True, std_estimator='std', warm_start=False):
  """Plays the missing (setting, episode) pairs of one CEM variant; returns that variant's records of the task.
  An episode another process is playing is left to it (skipped, with a log line), so several processes (one per
  core, say) can share one grid: each records an episode while still holding its lock, and one that takes a lock
  reads the records again first, so no episode is played twice."""
  path = os.path.join(out_dir, f'{task}.jsonl')

  def recorded():
    return {(tuple(r['settings']), r['episode'])
            for r in matrix.cem_variant(rundir.read_jsonl(path), std_estimator, warm_start)}

  done, sim, skipped = recorded(), true_sim.TrueSimulator(task, threads=threads), 0
  for setting in settings:
    for episode in range(episodes):
      if (tuple(setting), episode) in done:
        continue
      job = os.path.join(out_dir, 'jobs', task, matrix.true_sim_job_name(std_estimator, setting, episode, warm_start))
      try:
        record = _played(sim, setting, episode, std_estimator, warm_start, progress, job,
                         save=lambda record: rundir.append_jsonl(path, record),
                         played=lambda key=(tuple(setting), episode): key in recorded())
      except rundir.RunDirBusy as error:
        logging.warning('skipped: %s is being played by %s', error.path, error.owner)
        skipped += 1
        continue
      if record:
        logging.info('%s %s episode %d: return %.1f in %.0f s', task, setting, episode, record['return'],
                     record['seconds'])
  if skipped:
    logging.warning('%d episode(s) left to the processes playing them', skipped)
  return matrix.cem_variant(rundir.read_jsonl(path), std_estimator, warm_start)


def play_one(task, setting, episode, record_path, std_estimator='std', threads=None, progress=True):
  """One episode (a scripts/sweep.py job): its record is written to `record_path` alone (atomically); the sweep's
  driver merges job records into results/true_sim/<task>.jsonl. Returns the record; an episode whose record file
  exists already is not played again (its record is returned)."""
  record = None
  if not os.path.exists(record_path):  # Checked again once its lock is taken: another process may just end it.
    save = lambda record: rundir.write_atomically(record_path, json.dumps(record))
    record = _played(true_sim.TrueSimulator(task, threads=threads), setting, episode, std_estimator, False,
                     progress, record_path, save=save, played=lambda: os.path.exists(record_path))
  if record is None:
    logging.info('%s is recorded already: not played again', record_path)
    with open(record_path) as f:
      record = json.load(f)
  return record


def _played(sim, setting, episode, std_estimator, warm_start, progress, job, save, played=lambda: False):
  """Plays episode `episode` (its seed) with a progress bar and hands its record (one results/true_sim line;
  `resumed_at` lists the steps it was resumed from) to `save` while still holding the episode's lock; returns the
  record, or None where `played()`, asked once the lock is taken, says another process has recorded it. `job`: the
  path of its record file under jobs/ (see matrix.true_sim_job_name), beside which its checkpoint (+ '.partial') and
  lock (+ '.lock') go. A second process is refused (rundir.RunDirBusy) rather than playing the episode twice."""
  os.makedirs(os.path.dirname(job), exist_ok=True)
  lock = rundir.Lock(os.path.dirname(job), os.path.basename(job) + '.lock')
  try:
    if played():
      lock.release(remove=True)
      return None
    bar = tqdm.tqdm(total=sim.max_env_steps // sim.action_repeat, disable=not progress, leave=False,
                    desc=f'{sim.task} H{setting.horizon} I{setting.iterations} J{setting.candidates} '
                         f'K{setting.top_k} ep{episode}')
    info = {}
    score = play_episode(sim, setting, seed=episode, progress=bar, std_estimator=std_estimator,
                         warm_start=warm_start, checkpoint=job + '.partial', info=info)
    bar.close()
    record = dict(task=sim.task, settings=list(setting), **setting._asdict(), std_estimator=std_estimator,
                  **({'warm_start': True} if warm_start else {}), episode=episode,
                  seconds=round(info['seconds'], 2), threads=sim.threads)
    if info['resumed_at']:
      record['resumed_at'] = info['resumed_at']
    record.update(blind_steps=info['blind_steps'], first_reward_step=info['first_reward_step'], **{'return': score})
    save(record)
    lock.release(remove=True)
    return record
  finally:
    lock.release()


def check_task(task):
  """ValueError unless `task` has a true simulator (a registered task with its reward restated)."""
  if task not in tasks_lib.names() or tasks_lib.get(task).true_reward is None:
    raise ValueError(f"no true simulator for task {task!r}: choose one of {', '.join(tasks_lib.names())}")


def play_to_exit(task, settings, episodes, out, std_estimator='std', warm_start=False, threads=None, progress=True,
                 episode=None, record=None):
  """scripts/true_sim.py's episodes: the missing ones of `settings` into <out>/<task>.jsonl, or with `record` the
  one `episode` into that file (a sweep job). Logs each setting's mean return; ends the process with one line and
  planet.cli's exit code when stopped, refused or out of disk space (the episode so far is saved)."""
  cli.stop_on_signals()
  try:
    if record is not None:
      played = play_one(task, settings[0], episode, record, std_estimator, threads, progress)
      logging.info('%s episode %d: return %.1f', settings[0], episode, played['return'])
      return
    records = run(task, settings, episodes, out, threads, progress, std_estimator=std_estimator,
                  warm_start=warm_start)
  except KeyboardInterrupt:
    print('stopped: the episode so far is saved; the same command continues it', file=sys.stderr)
    sys.exit(cli.EXIT_INTERRUPTED)
  except CheckpointMismatch as error:
    cli.fail(error)
  except rundir.RunDirBusy as error:  # Another process plays this episode.
    cli.fail(error, cli.EXIT_BUSY)
  except OSError as error:  # A full disk while saving the records: the episode so far is saved, it resumes.
    cli.fail_on_storage(error)
  for setting in settings:
    scores = [r['return'] for r in records if r['settings'] == list(setting)]
    if scores:
      logging.info('%s: mean return %.1f over %d episode(s)', setting, np.mean(scores), len(scores))
