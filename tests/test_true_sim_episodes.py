"""Episodes of CEM with the true simulator: a stopped episode resumes with the same draws; the script stops with one
line; a sweep resumes and its records feed Table 1 and Fig. 12."""
import errno
import json
import logging
import os
import signal
import time

import numpy as np
import pytest

from conftest import script
from planet import cli
from planet import rundir
from planet.experiments import matrix
from planet.experiments import state
from planet.experiments import true_sim
from planet.experiments import true_sim_episodes
from planet.report import analysis
from planet.report import figures
from planet.report import table1


class _StopAfter:
  """A progress bar that stops the episode (as Ctrl-C or a lost worker would) once `steps` agent steps are done."""

  def __init__(self, steps):
    self.steps, self.done = steps, 0

  def update(self, steps):
    self.done += steps
    if self.done >= self.steps:
      raise KeyboardInterrupt


def test_an_episode_stopped_part_way_resumes_where_it_stopped(tmp_path, caplog):
  settings = matrix.CemSettings(horizon=3, iterations=2, candidates=16, top_k=4)
  sim = true_sim.TrueSimulator('cartpole', threads=1, max_env_steps=48)  # 6 agent steps (action repeat 8).
  whole = true_sim_episodes.play_episode(sim, settings, seed=1)
  run = matrix.runs('truesim', ['cartpole'], episodes=2, results=str(tmp_path))[1]
  checkpoint = run.path + '.partial'
  with pytest.raises(KeyboardInterrupt):
    true_sim_episodes.play_episode(sim, settings, seed=1, progress=_StopAfter(2), checkpoint=checkpoint)
  assert state.status(run, str(tmp_path)) == ('partial', '2 of 6 steps')
  lock = rundir.Lock(os.path.dirname(run.path), os.path.basename(run.path) + '.lock')  # What a playing job holds.
  try:
    assert state.status(run, str(tmp_path)) == ('running', '2 of 6 steps')
    with pytest.raises(rundir.RunDirBusy, match=r'ep1.json is being played by pid \d+'):  # No second player.
      true_sim_episodes.play_one('cartpole', settings, 1, run.path, threads=1, progress=False)
  finally:
    lock.release()
  with pytest.raises(KeyboardInterrupt):  # Stopped again after the resume: the 2 replayed steps, then 2 planned.
    true_sim_episodes.play_episode(sim, settings, seed=1, progress=_StopAfter(4), checkpoint=checkpoint)
  with pytest.raises(true_sim_episodes.CheckpointMismatch, match='checkpoint of another episode .differs in seed'):
    true_sim_episodes.play_episode(sim, settings, seed=2, checkpoint=checkpoint)
  info = {}
  resumed = true_sim_episodes.play_episode(sim, settings, seed=1, checkpoint=checkpoint, info=info)
  assert resumed == whole and whole > 0  # The same actions and random draws as the episode that never stopped.
  assert info['resumed_at'] == [2, 4] and not os.path.exists(checkpoint)
  # A checkpoint whose actions do not give its return here (another physics build) is not trusted.
  with pytest.raises(KeyboardInterrupt):
    true_sim_episodes.play_episode(sim, settings, seed=1, progress=_StopAfter(3), checkpoint=checkpoint)
  saved = json.load(open(checkpoint))
  with open(checkpoint, 'w') as f:
    json.dump(dict(saved, total=saved['total'] + 1.0), f)
  info = {}
  assert true_sim_episodes.play_episode(sim, settings, seed=1, checkpoint=checkpoint, info=info) == whole
  assert info['resumed_at'] == [] and 'starting the episode over' in caplog.text


class _SparseSim:
  """A true simulator of a sparse task, by hand: no candidate scores from the first `blind` agent steps, every one
  from those after, and the real reward is 1 from step `blind` + 2 on (the plan reaches it a step later)."""
  task, action_repeat, action_size, max_env_steps = 'sparse', 1, 1, 6

  def __init__(self, blind):
    self.blind, self.steps = blind, 0

  def reset(self, seed=None):
    self.steps = 0

  def state(self):
    return self.steps

  def returns(self, state, actions):
    return np.full(len(actions), float(state >= self.blind))

  def step(self, action):
    self.steps += 1
    return float(self.steps > self.blind + 1), self.steps == self.max_env_steps


def test_an_episode_counts_the_steps_its_planner_was_blind(tmp_path):
  settings = matrix.CemSettings(horizon=2, iterations=2, candidates=8, top_k=2)
  info = {}
  assert true_sim_episodes.play_episode(_SparseSim(blind=3), settings, seed=0, info=info) == 2.0
  assert (info['blind_steps'], info['first_reward_step']) == (3, 5)
  # Stopped and resumed: the count goes on from the checkpoint; an older checkpoint without it makes it unknown.
  checkpoint = str(tmp_path / 'ep0.json.partial')
  with pytest.raises(KeyboardInterrupt):
    true_sim_episodes.play_episode(_SparseSim(blind=3), settings, seed=0, progress=_StopAfter(2),
                                   checkpoint=checkpoint)
  assert json.load(open(checkpoint))['blind_steps'] == 2
  with pytest.raises(KeyboardInterrupt):
    true_sim_episodes.play_episode(_SparseSim(blind=3), settings, seed=0, progress=_StopAfter(4),
                                   checkpoint=checkpoint)
  saved = json.load(open(checkpoint))
  with open(checkpoint + '.old', 'w') as f:
    json.dump({key: value for key, value in saved.items() if key != 'blind_steps'}, f)
  true_sim_episodes.play_episode(_SparseSim(blind=3), settings, seed=0, checkpoint=checkpoint, info=info)
  assert (info['blind_steps'], info['first_reward_step'], info['resumed_at']) == (3, 5, [2, 4])
  info = {}
  true_sim_episodes.play_episode(_SparseSim(blind=3), settings, seed=0, checkpoint=checkpoint + '.old', info=info)
  assert (info['blind_steps'], info['first_reward_step'], info['resumed_at']) == (None, 5, [2, 4])


def test_an_episode_whose_record_exists_is_not_played_again(tmp_path, monkeypatch, caplog):
  caplog.set_level(logging.INFO)
  settings = matrix.CemSettings(horizon=2, iterations=1, candidates=8, top_k=2)

  def played_again(*args, **kwargs):
    raise AssertionError('an episode with a record was played again')

  monkeypatch.setattr(true_sim_episodes, 'play_episode', played_again)
  first = tmp_path / 'ep0.json'
  first.write_text(json.dumps({'episode': 0, 'return': 12.5}))
  assert true_sim_episodes.play_one('cartpole', settings, 0, str(first), threads=1, progress=False)['return'] == 12.5
  assert f'{first} is recorded already: not played again' in caplog.text
  # Recorded by another process after the first look but before the lock was taken: not played either.
  second, original_lock = tmp_path / 'ep1.json', rundir.Lock

  def taken_after_another_recorded_it(logdir, name):
    second.write_text(json.dumps({'episode': 1, 'return': 3.0}))
    return original_lock(logdir, name)

  monkeypatch.setattr(rundir, 'Lock', taken_after_another_recorded_it)
  assert true_sim_episodes.play_one('cartpole', settings, 1, str(second), threads=1, progress=False)['return'] == 3.0
  assert sorted(os.listdir(tmp_path)) == ['ep0.json', 'ep1.json']  # No lock or checkpoint left behind.


def _script_exit(record, play_one, monkeypatch):
  """scripts/true_sim.py's main for one episode with `play_one` in place of the real one: its SystemExit, with the
  signal handlers it installs put back."""
  true_sim_script = script('true_sim')
  monkeypatch.setattr(true_sim_episodes, 'play_one', play_one)
  handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
  try:
    with pytest.raises(SystemExit) as stopped:
      true_sim_script.main(['--task=cartpole', '--episode=0', f'--record={record}'])
  finally:
    for sig, handler in handlers.items():
      signal.signal(sig, handler)
  return stopped.value


def test_the_script_stops_on_sigterm_with_one_line_and_exit_130(tmp_path, monkeypatch, capsys):
  def stopped_by_the_scheduler(*args):
    del args
    os.kill(os.getpid(), signal.SIGTERM)  # What Ray or a cluster's scheduler sends; the handler raises inside.
    time.sleep(5)

  stopped = _script_exit(tmp_path / 'ep0.json', stopped_by_the_scheduler, monkeypatch)
  assert stopped.code == cli.EXIT_INTERRUPTED  # A stop: the sweep reports it and does not retry it.
  assert capsys.readouterr().err.strip().splitlines() == [
      'stopped: the episode so far is saved; the same command continues it']


def test_the_script_on_a_full_disk_stops_with_one_line_and_exit_5(tmp_path, monkeypatch, capsys):
  record = str(tmp_path / 'ep0.json')

  def full_disk(*args):
    del args
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), record + '.partial')  # Saving the episode's progress.

  assert _script_exit(record, full_disk, monkeypatch).code == cli.EXIT_STORAGE
  assert capsys.readouterr().err.strip().splitlines() == [
      f'error: cannot write {record}.partial (No space left on device); free space (or fix the file system) and '
      'rerun the same command to resume']


def _short_episodes(monkeypatch):
  """The true simulators made from here on play 2 agent steps an episode (cartpole: 16 control steps)."""
  original = true_sim.TrueSimulator

  def short(*args, **kwargs):
    sim = original(*args, **kwargs)
    sim.max_env_steps = 16
    return sim

  monkeypatch.setattr(true_sim, 'TrueSimulator', short)


def test_processes_sharing_a_grid_skip_what_another_plays_and_play_nothing_twice(tmp_path, monkeypatch, caplog):
  settings = [matrix.CemSettings(2, 1, 8, 2)]
  out, original_lock = tmp_path / 'true_sim', rundir.Lock
  jobs = out / 'jobs' / 'cartpole'
  os.makedirs(jobs)
  _short_episodes(monkeypatch)
  name = lambda episode: matrix.true_sim_job_name('std', settings[0], episode, False)
  held = original_lock(str(jobs), name(0) + '.lock')  # Another process plays episode 0.
  try:
    records = true_sim_episodes.run('cartpole', settings, 2, str(out), threads=1, progress=False)
  finally:
    held.release()
  assert [r['episode'] for r in records] == [1]
  assert f'skipped: {jobs / name(0)} is being played by pid' in caplog.text and '1 episode(s) left' in caplog.text

  def taken_after_another_recorded_it(logdir, lock_name):  # Episode 0 ends elsewhere between the read and the lock.
    if lock_name == name(0) + '.lock':
      rundir.append_jsonl(str(out / 'cartpole.jsonl'), dict(records[0], episode=0, **{'return': -1.0}))
    return original_lock(logdir, lock_name)

  monkeypatch.setattr(rundir, 'Lock', taken_after_another_recorded_it)
  records = true_sim_episodes.run('cartpole', settings, 2, str(out), threads=1, progress=False)
  assert sorted((r['episode'], r['return'] == -1.0) for r in records) == [(0, True), (1, False)]  # Not replayed.
  assert os.listdir(jobs) == []  # No lock, checkpoint or record left behind.
  # A lock's file is deleted only while it is still that lock's: not once its path is another process's lock.
  first = original_lock(str(tmp_path), 'x.lock')
  os.remove(first.path)
  second = original_lock(str(tmp_path), 'x.lock')
  first.release(remove=True)
  assert os.path.exists(second.path)
  second.release(remove=True)
  assert not os.path.exists(second.path)


def test_sweep_resumes(tmp_path, monkeypatch):
  settings = [matrix.CemSettings(2, 1, 8, 2), matrix.CemSettings(3, 1, 8, 2)]
  out = tmp_path / 'true_sim'
  _short_episodes(monkeypatch)
  records = true_sim_episodes.run('cartpole', settings, 2, str(out), threads=1, progress=False)
  assert len(records) == 4
  assert os.listdir(out / 'jobs' / 'cartpole') == []  # Finished episodes leave no checkpoint or lock behind.
  lines = open(out / 'cartpole.jsonl').read().splitlines()
  with open(out / 'cartpole.jsonl', 'w') as f:  # An interrupted sweep: the last episode is missing.
    f.write('\n'.join(lines[:3]) + '\n')
  records = true_sim_episodes.run('cartpole', settings, 2, str(out), threads=1, progress=False)
  assert len(records) == 4
  assert sorted((tuple(r['settings']), r['episode']) for r in records) == sorted(
      (tuple(s), e) for s in settings for e in range(2))
  assert json.loads(lines[3])['return'] == records[3]['return']  # Same seed, same score.
  # Records at the paper setting feed Table 1's true-simulator row and Fig. 12's panels.
  paper = [dict(r, settings=[12, 10, 1000, 100], **{'return': 500.0 + 100 * e}) for e, r in enumerate(records[:2])]
  swept = [dict(records[0], settings=[8, 10, 1000, 100], **{'return': 700.0})]
  probe = [dict(records[0], settings=[12, 10, 1000, 100], warm_start=True, **{'return': 999.0})]  # Not the paper's.
  printed = [dict(records[0], settings=[12, 10, 1000, 100], std_estimator='paper', **{'return': 300.0})]
  with open(out / 'cartpole.jsonl', 'a') as f:
    f.writelines(json.dumps(r) + '\n' for r in paper + probe + printed)
  # The paper's setting alone is Table 1's cell, not Fig. 12's sweep: no figure.
  assert figures.fig12(str(tmp_path), str(tmp_path / 'figures'), task='cartpole') is None
  with open(out / 'cartpole.jsonl', 'a') as f:
    f.writelines(json.dumps(r) + '\n' for r in swept)
  assert analysis.true_sim_sweep(analysis.true_sim_records(str(tmp_path), 'cartpole'), 'horizon') == [
      (8, 700.0, 0.0, 1), (12, 550.0, 50.0, 2)]
  assert figures.fig12(str(tmp_path), str(tmp_path / 'figures'), task='cartpole').endswith('.png')
  rows = table1.write([], {}, None, str(tmp_path / 'figures'), str(tmp_path))
  assert all(r['std_estimator'] == 'std' for r in records)  # The authors' refit is the default.
  assert rows[2][0] == 'CEM + true simulator (this code)' and rows[2][3] == '550 (n=2)'
  assert rows[3][0] == 'CEM + true simulator (this code, printed refit)' and rows[3][3] == '300 (n=1)'
