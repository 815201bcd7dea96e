"""The run directory (planet.rundir): its layout in one object, episodes counted in one place."""
import json
import os

import pytest

from planet import rundir


def test_the_layout_names_every_file_and_counts_episodes(tmp_path):
  layout = rundir.RunDir(tmp_path)
  assert layout.metrics == os.path.join(str(tmp_path), 'metrics.jsonl')
  assert layout.checkpoints == os.path.join(str(tmp_path), 'checkpoints')
  assert layout.exit_record == os.path.join(str(tmp_path), 'exit.json')
  with pytest.raises(AttributeError):
    layout.not_a_file  # noqa: B018  # An unknown name is an error, not a made-up path.
  assert layout.episodes_done() == 0  # No episode directory yet.
  os.makedirs(layout.train_episodes)
  for name in ('000000-11.npz', '000001-11.npz', '.000002-11.npz.1a2b3c4d.tmp', 'notes.txt'):
    open(os.path.join(layout.train_episodes, name), 'w').close()
  assert layout.episodes_done() == 2  # Temporary files of an unfinished write are not episodes.
  assert rundir.list_episodes(layout.train_episodes)[0].endswith('000000-11.npz')


def test_collect_copies_small_files(tmp_path):
  logdir = tmp_path / 'logs' / 'cheetah' / 'ssm' / 'seed3'
  os.makedirs(logdir / 'checkpoints')
  (logdir / 'metrics.jsonl').write_text('{"episodes": 1}\n')
  (logdir / 'operative_config.gin').write_text('x = 1\n')
  (logdir / 'checkpoints' / 'ckpt-1.index').write_text('big')
  os.makedirs(logdir / 'analysis')
  (logdir / 'analysis' / 'eval+cem_plan.candidates=1000.json').write_text('{"mean": 1.0}')
  (logdir / 'analysis' / 'openloop_strip.png').write_text('an image')
  (logdir / 'command.txt').write_text('2026-12-06 10:00:00 on host (CPU Made-up x2 cores), commit abc1234: python '
                                      'scripts/train.py --gin_file=gin/cheetah.gin --gin_file=gin/ablations/ssm.gin\n')
  target = rundir.collect_run(str(logdir), str(tmp_path / 'results'))
  assert target.endswith(os.path.join('cheetah', 'ssm', 'seed3'))
  assert sorted(os.listdir(target)) == ['analysis', 'command.txt', 'metrics.jsonl', 'operative_config.gin', 'run.json']
  # An evaluation with other settings is kept (small JSON); images and checkpoints are not.
  assert os.listdir(os.path.join(target, 'analysis')) == ['eval+cem_plan.candidates=1000.json']
  record = json.load(open(os.path.join(target, 'run.json')))
  assert (record['config'], record['machine'], record['commit']) == ('ssm', 'CPU Made-up x2 cores', 'abc1234')
  assert record['settings'] == 'unknown'  # No config.gin in the run directory.
