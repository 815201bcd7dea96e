"""gin files read as text (planet/gin_text.py): includes first, later bindings win, from any directory."""
import os

import pytest

from planet import gin_text


def test_included_files_are_read_first_and_later_bindings_win(tmp_path):
  (tmp_path / 'inner.gin').write_text("train.batch_size = 10\ntrain.chunk_length = 20\n")
  (tmp_path / 'outer.gin').write_text(f"include '{tmp_path / 'inner.gin'}'\n# a comment\ntrain.batch_size = 30\n")
  (tmp_path / 'last.gin').write_text("train.chunk_length = 40\n")
  assert gin_text.file_bindings(str(tmp_path / 'outer.gin')) == {'train.batch_size': '30', 'train.chunk_length': '20'}
  assert gin_text.files_bindings([str(tmp_path / 'outer.gin'), str(tmp_path / 'last.gin')]) == {
      'train.batch_size': '30', 'train.chunk_length': '40'}


def test_repository_paths_resolve_from_any_directory(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert gin_text.resolve('gin/cartpole.gin') == os.path.join(gin_text.REPO_ROOT, 'gin', 'cartpole.gin')
  assert gin_text.file_bindings('gin/cartpole.gin')['make_env.action_repeat'] == '8'
  with pytest.raises(gin_text.ConfigError, match="gin file 'gin/nope.gin' not found"):
    gin_text.resolve('gin/nope.gin')


def test_a_file_that_includes_itself_is_one_error(tmp_path):
  (tmp_path / 'a.gin').write_text(f"include '{tmp_path / 'b.gin'}'\n")
  (tmp_path / 'b.gin').write_text(f"include '{tmp_path / 'a.gin'}'\n")
  with pytest.raises(gin_text.ConfigError, match='includes itself'):
    gin_text.file_bindings(str(tmp_path / 'a.gin'))
