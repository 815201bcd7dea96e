"""Faults a long run meets: a damaged newest checkpoint falls back to the one before, a checkpoint that does not fit
blames the configuration, and a full disk is a clean stop (one line, exit 5) that the same command resumes."""
import errno
import glob
import logging
import os
import subprocess
import sys

import pytest
import tensorflow as tf

from conftest import ROOT
from conftest import fake_run_gin
from planet import checkpoint
from planet import cli
from planet import config as config_lib
from planet import logger
from planet import replay as replay_lib
from planet import rundir
from planet import training

FAKE = ['train.final_test_episodes = 1']


def _train(logdir, total, extra=()):
  config_lib.parse([], fake_run_gin(FAKE + [f'train.total_episodes = {total}', *extra]))
  return training.train(str(logdir), progress=False)


def _damage(logdir, number):
  """Cuts every file of checkpoint `number` short, as a crash mid-copy or a bad disk would."""
  for path in glob.glob(os.path.join(logdir, 'checkpoints', f'ckpt-{number}.*')):
    with open(path, 'r+b') as f:
      f.truncate(max(os.path.getsize(path) // 3, 1))


def test_a_damaged_newest_checkpoint_falls_back_to_the_one_before(tmp_path, caplog):
  records = _train(tmp_path, 4)
  assert [os.path.basename(p) for p in tf.train.get_checkpoint_state(str(tmp_path / 'checkpoints'))
          .all_model_checkpoint_paths] == ['ckpt-3', 'ckpt-4']  # The two newest are kept.
  steps_at_3 = records[2]['grad_steps']
  _damage(tmp_path, 4)
  with caplog.at_level(logging.WARNING):
    resumed = _train(tmp_path, 5)
  warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and 'ckpt-4' in r.getMessage()]
  assert warnings and 'cannot be read' in warnings[0] and len(warnings[0].splitlines()) == 1
  # The episodes on disk stay; the grad steps continue from the checkpoint restored (ckpt-3's), not from ckpt-4's.
  assert [r['episodes'] for r in resumed] == [1, 2, 3, 4, 5]
  assert resumed[-1]['grad_steps'] == steps_at_3 + 3
  assert len(replay_lib.list_episodes(tmp_path / 'train_episodes')) == 5


@pytest.mark.parametrize('state', ['', 'model_checkpoint_path: "ckpt-3"\nall_model_che'])
def test_a_damaged_state_file_still_resumes_from_the_newest_checkpoint(tmp_path, state):
  records = _train(tmp_path, 3)
  with open(tmp_path / 'checkpoints' / 'checkpoint', 'w') as f:  # Empty, or cut short mid-line.
    f.write(state)
  resumed = _train(tmp_path, 4)
  assert resumed[-1]['grad_steps'] == records[-1]['grad_steps'] + 3  # From ckpt-3, not from a new model.


def test_no_readable_checkpoint_is_one_line_that_says_what_to_do(tmp_path):
  _train(tmp_path, 3)
  _damage(tmp_path, 2)
  _damage(tmp_path, 3)
  with pytest.raises(rundir.RunDirError, match='no checkpoint can be read') as error:
    _train(tmp_path, 4)
  first = str(error.value).splitlines()[0]  # What scripts/train.py prints (gin appends where it was called).
  assert 'ckpt-3: ' in first and 'ckpt-2: ' in first and first.endswith('to train a new model on the episodes on disk')


def test_only_a_readable_checkpoint_that_does_not_fit_blames_the_configuration(tmp_path):
  _train(tmp_path, 3)
  os.remove(tmp_path / 'experiment.json')  # Past the experiment check: the model itself differs.
  with pytest.raises(rundir.RunDirError, match='ckpt-3 does not fit this model'):
    _train(tmp_path, 4, ['RSSM.deterministic_size = 8'])


def test_a_full_disk_while_saving_stops_cleanly_and_the_run_resumes(tmp_path, monkeypatch):
  _train(tmp_path, 3)
  original = rundir.write_atomically

  def full(path, data):
    if path.endswith('operative_config.gin'):
      raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)
    return original(path, data)

  monkeypatch.setattr(rundir, 'write_atomically', full)
  with pytest.raises(rundir.StorageError, match='No space left on device'):
    _train(tmp_path, 4)
  monkeypatch.setattr(rundir, 'write_atomically', original)
  records = _train(tmp_path, 4)  # Space freed: the same command completes, every episode readable.
  assert [r['episodes'] for r in records] == [1, 2, 3, 4]
  assert all(replay_lib.load_episode(path) is not None for path in replay_lib.list_episodes(
      tmp_path / 'train_episodes'))


def test_a_checkpoint_write_error_names_the_directory(tmp_path):
  class Failing:
    directory = str(tmp_path / 'checkpoints')

    def save(self, checkpoint_number):
      raise tf.errors.ResourceExhaustedError(None, None, 'SaveV2: No space left on device')

  with pytest.raises(rundir.StorageError, match='cannot write the checkpoint in .*No space left on device'):
    checkpoint.save(Failing(), 1)


@pytest.mark.slow
def test_train_py_on_a_full_disk_exits_with_one_line_and_resumes(tmp_path):
  logdir = tmp_path / 'run'
  params = [f'--gin_param={p}' for p in fake_run_gin(FAKE + ['train.total_episodes = 4'])]
  args = ['--gin_file', 'gin/base.gin', '--logdir', str(logdir), '--no_progress', *params]
  # The disk fills when the third episode is saved: its checkpoint write fails as SaveV2 reports it.
  full_disk = ('import sys, runpy, errno, os; from planet import rundir; original = rundir.write_atomically\n'
               'def full(path, data):\n'
               '  if path.endswith("operative_config.gin") and os.path.exists(os.path.join(os.path.dirname(path), '
               '"checkpoints", "ckpt-3.index")):\n'
               '    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)\n'
               '  return original(path, data)\n'
               'rundir.write_atomically = full\n'
               'sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name="__main__")')
  script = os.path.join(ROOT, 'scripts', 'train.py')
  result = subprocess.run([sys.executable, '-c', full_disk, script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == cli.EXIT_STORAGE, result.stderr[-2000:]
  assert 'Traceback' not in result.stderr
  errors = [line for line in result.stderr.splitlines() if line.startswith('error:')]
  assert len(errors) == 1 and 'No space left on device' in errors[0] and 'rerun the same command' in errors[0]
  assert len(logger.read_metrics(logdir)) == 2
  result = subprocess.run([sys.executable, script, *args], cwd=ROOT, capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-2000:]
  assert [r['episodes'] for r in logger.read_metrics(logdir)] == [1, 2, 3, 4]
