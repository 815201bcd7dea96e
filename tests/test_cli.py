"""The command lines as a newcomer meets them: a clean stop on Ctrl-C that resumes, one line and a distinct exit
code for every bad input (never a traceback, the run directory left intact), a finished run that says so."""
import configparser
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT
from planet import cli
from planet import rundir

DEBUG = ['--gin_file=gin/cartpole.gin', '--gin_file=gin/debug.gin']
FAKE = ['--gin_file=gin/base.gin', '--gin_file=gin/debug.gin', "--gin_param=train.task='fake'",
        '--gin_param=make_env.max_env_steps=20']


def _script(name, *args, env=None, timeout=300):
  result = subprocess.run([sys.executable, os.path.join(ROOT, 'scripts', f'{name}.py'), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})})
  return result.returncode, result.stderr


def _one_line_error(code, stderr, expected_code=cli.EXIT_BAD_INPUT):
  assert code == expected_code, stderr[-2000:]
  assert 'Traceback' not in stderr, stderr[-2000:]
  errors = [line for line in stderr.splitlines() if line.startswith('error:')]
  assert len(errors) == 1, stderr[-2000:]
  return errors[0]


def _snapshot(directory):
  return {name: open(os.path.join(directory, name), 'rb').read() for name in sorted(os.listdir(directory))
          if os.path.isfile(os.path.join(directory, name)) and name != '.lock'}


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
  """A complete 3-episode fake-env run made by the script."""
  logdir = str(tmp_path_factory.mktemp('runs') / 'fake')
  code, stderr = _script('train', *FAKE, f'--logdir={logdir}', '--no_progress')
  assert code == 0, stderr[-3000:]
  return logdir


@pytest.mark.parametrize('args, env, message', [
    (["--gin_param=train.batch_size=("], {}, 'bad gin configuration'),
    (['--gin_param=RSSM.not_a_parameter=3'], {}, "'not_a_parameter'"),
    (["--gin_param=train.batch_size='50'"], {}, "train.batch_size = '50' is a str, but it takes a int"),
    (["--gin_param=train.task='cartpol'"], {}, "unknown task 'cartpol'"),
    (['--gin_file=gin/no_such_file.gin'], {}, "gin file 'gin/no_such_file.gin' not found"),
    ([], {'MUJOCO_GL': 'vulkan'}, "MUJOCO_GL='vulkan' is not a rendering backend"),
    (['--gin_param=train.total_episodes=-3'], {}, 'train.total_episodes = -3, but it must be a positive count'),
    (['--gin_file=gin/base.gin', '--gin_param=cem_plan.top_k=2000'], {},
     'cem_plan.top_k = 2000, but it must be between 1 and cem_plan.candidates (1000)'),
], ids=['gin_syntax', 'unknown_binding', 'wrong_type', 'unknown_task', 'missing_gin_file', 'bad_mujoco_gl',
        'negative_episodes', 'top_k_over_candidates'])
def test_bad_configuration_is_one_line(tmp_path, args, env, message):
  code, stderr = _script('train', *DEBUG, *args, f'--logdir={tmp_path / "run"}', env=env)
  assert message in _one_line_error(code, stderr)
  assert not os.path.exists(tmp_path / 'run')  # Refused before anything was written.


def test_unusable_run_directories_are_one_line(tmp_path):
  (tmp_path / 'file').write_text('not a directory')
  code, stderr = _script('train', *FAKE, f'--logdir={tmp_path / "file"}')
  assert 'is a file' in _one_line_error(code, stderr)
  assert (tmp_path / 'file').read_text() == 'not a directory'
  # A path that cannot be created (its parent is a file), which root cannot create either.
  code, stderr = _script('train', *FAKE, f'--logdir={tmp_path / "file" / "run"}')
  assert 'cannot create the run directory' in _one_line_error(code, stderr)
  assert (tmp_path / 'file').read_text() == 'not a directory'


def test_missing_rendering_library_is_one_line(tmp_path):
  # What a machine without libEGL looks like to PyOpenGL, which dm_control's EGL backend loads.
  fake = tmp_path / 'fake_gl' / 'OpenGL'
  fake.mkdir(parents=True)
  (fake / '__init__.py').write_text("raise ImportError('libEGL.so.1: cannot open shared object file')\n")
  code, stderr = _script('train', *DEBUG, f'--logdir={tmp_path / "run"}',
                         env={'MUJOCO_GL': 'egl', 'PYTHONPATH': str(tmp_path / 'fake_gl')})
  line = _one_line_error(code, stderr)
  assert 'rendering with MUJOCO_GL=egl failed' in line and 'libEGL.so.1' in line and 'apt-get install' in line


def test_resume_with_another_experiment_is_refused(finished_run):
  before = _snapshot(finished_run)
  code, stderr = _script('train', *FAKE, '--gin_param=RSSM.deterministic_size=32', '--gin_param=train.total_episodes=4',
                         f'--logdir={finished_run}')
  line = _one_line_error(code, stderr)
  assert 'holds another experiment' in line and 'RSSM.deterministic_size: 16 -> 32' in line
  assert _snapshot(finished_run) == before


def test_second_writer_is_refused(finished_run):
  lock = rundir.Lock(finished_run)  # As a running trainer holds it.
  try:
    before = _snapshot(finished_run)
    code, stderr = _script('train', *FAKE, '--gin_param=train.total_episodes=4', f'--logdir={finished_run}')
    assert 'is in use by pid' in _one_line_error(code, stderr, cli.EXIT_BUSY)
    assert _snapshot(finished_run) == before
  finally:
    lock.release()


def test_finished_run_says_so_and_exits_at_once(finished_run):
  before = _snapshot(finished_run)
  tic = time.time()
  code, stderr = _script('train', *FAKE, f'--logdir={finished_run}')
  assert code == 0 and 'is complete (3 episodes); nothing to do' in stderr, stderr[-2000:]
  assert 'Traceback' not in stderr and time.time() - tic < 60
  assert _snapshot(finished_run) == before


def test_other_scripts_bad_inputs_are_one_line(tmp_path):
  code, stderr = _script('evaluate', '--logdir', str(tmp_path / 'missing'))
  assert 'no run directory' in _one_line_error(code, stderr)
  code, stderr = _script('plot', '--results', str(tmp_path / 'empty'), '--out', str(tmp_path / 'figures'))
  assert 'no runs in' in _one_line_error(code, stderr)
  code, stderr = _script('true_sim', '--task', 'cartpol')
  assert 'no true simulator for task' in _one_line_error(code, stderr)
  code, stderr = _script('benchmark', '--tasks', 'cartpol')
  assert 'unknown task or part cartpol' in _one_line_error(code, stderr)


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_the_run_resumes(tmp_path):
  logdir = tmp_path / 'run'
  args = [sys.executable, os.path.join(ROOT, 'scripts', 'train.py'), *DEBUG, f'--logdir={logdir}',
          '--gin_param=train.total_episodes=40']
  # Started the way a script's `cmd &` starts it: with SIGINT ignored, which Python keeps unless train.py installs
  # its own handler (without it, the run went on to its 40th episode).
  process = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE, text=True, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
  deadline = time.time() + 240
  while len(os.listdir(logdir / 'train_episodes') if os.path.isdir(logdir / 'train_episodes') else []) < 3:
    assert time.time() < deadline and process.poll() is None
    time.sleep(0.5)
  os.killpg(process.pid, signal.SIGINT)  # What Ctrl-C in a terminal does: the whole group, env worker included.
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == cli.EXIT_INTERRUPTED, stderr[-3000:]
  assert 'Traceback' not in stderr and 'KeyboardInterrupt' not in stderr, stderr[-3000:]
  stopped = [line for line in stderr.splitlines() if line.startswith('stopped at episode')]
  assert len(stopped) == 1 and stopped[0].endswith('rerun the same command to resume'), stderr[-3000:]
  episodes = int(stopped[0].split()[3])
  assert episodes == len(os.listdir(logdir / 'train_episodes')) >= 3
  # The same command with two more episodes continues the counters where they stopped.
  code, stderr = _script('train', *DEBUG, f'--logdir={logdir}', f'--gin_param=train.total_episodes={episodes + 2}',
                         '--no_progress')
  assert code == 0, stderr[-3000:]
  records = [json.loads(line) for line in open(logdir / 'metrics.jsonl')]
  assert [r['episodes'] for r in records] == list(range(1, episodes + 3))
  assert records[-1]['grad_steps'] > records[episodes - 1]['grad_steps']


def test_gpu_extra_pins_the_same_tensorflow():
  # `pip install -e '.[gpu]'` must bring the CUDA libraries of the TensorFlow that install_requires pins, not another.
  config = configparser.ConfigParser()
  config.read(os.path.join(ROOT, 'setup.cfg'))
  pins = lambda text: [line.strip() for line in text.splitlines() if line.strip().startswith('tensorflow')]
  version = [pin for pin in pins(config['options']['install_requires']) if pin.startswith('tensorflow==')]
  assert len(version) == 1 and pins(config['options.extras_require']['gpu']) == [
      version[0].replace('tensorflow==', 'tensorflow[and-cuda]==')]
