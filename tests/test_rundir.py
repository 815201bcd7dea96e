"""The run directory (planet.rundir): its layout in one object, episodes counted in one place."""
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
