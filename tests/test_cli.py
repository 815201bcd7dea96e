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
from planet import config as config_lib
from planet import machine
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


@pytest.mark.parametrize('binding, rule', [
    ('train.total_episodes = 0', 'a positive count'), ('train.seed_episodes = 0', 'at least 1'),
    ('train.collect_interval = -1', 'a positive count of updates'), ('train.batch_size = 0', 'a positive size'),
    ('train.chunk_length = 0', 'a positive length'), ('train.test_every = 0', 'a positive count of episodes'),
    ('train.video_every = -1', '0 (off) or a positive count'), ('make_env.action_repeat = 0', 'a positive count'),
    ('cem_plan.horizon = 0', 'a positive length'), ('cem_plan.iterations = 0', 'a positive count'),
    ('cem_plan.candidates = -5', 'a positive count'), ('cem_plan.top_k = 0', 'between 1 and cem_plan.candidates'),
    ('cem_plan.discount = 1.5', 'in (0, 1]'), ('WorldModel.free_nats = -1.0', 'non-negative'),
    ('WorldModel.image_bits = 9', 'between 1 and 8'), ('WorldModel.overshooting = 0', 'a distance D >= 1'),
    ('RSSM.stochastic_size = 0', 'a positive size'), ('Adam.learning_rate = 0.0', 'positive'),
    ('Agent.exploration_noise = -0.3', 'a non-negative standard deviation')])
def test_impossible_settings_are_refused_naming_binding_value_and_rule(binding, rule):
  key, value = (part.strip() for part in binding.split('='))
  with pytest.raises(config_lib.ConfigError) as error:
    config_lib.configure(['gin/cartpole.gin', 'gin/debug.gin'], [binding], logdir='unused')
  assert str(error.value).startswith(f'bad gin configuration: {key} = {value}, but it must be {rule}')
  # The same files without it are fine.
  config_lib.configure(['gin/cartpole.gin', 'gin/debug.gin'], [], logdir='unused')


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


def test_runs_recorded_before_a_binding_existed_resume_with_its_earlier_value(tmp_path):
  # A run recorded before gin/base.gin had cem_plan.discount and cem_plan.resample_belief planned undiscounted, from
  # a belief sample per candidate: it resumes with the overlays that restore that, not with the new defaults.
  old = 'train.task = "cartpole"\ncem_plan.std_estimator = "std"\n'
  rundir.check_same_experiment(str(tmp_path), old)
  rundir.check_same_experiment(str(tmp_path), old + 'cem_plan.discount = 1.0\ncem_plan.resample_belief = True\n')
  with pytest.raises(rundir.RunDirError) as error:
    rundir.check_same_experiment(str(tmp_path), old + 'cem_plan.discount = 0.99\ncem_plan.resample_belief = False\n')
  assert 'cem_plan.discount: 1.0 (unset, as before the binding existed) -> 0.99' in str(error.value)
  assert 'cem_plan.resample_belief: True (unset, as before the binding existed) -> False' in str(error.value)
  # A configuration that binds neither (one without gin/base.gin) is compared as it is.
  rundir.check_same_experiment(str(tmp_path), old)
  # A run that records the binding keeps its own value.
  rundir.check_same_experiment(str(tmp_path / 'new'), old + 'cem_plan.discount = 0.99\n')
  with pytest.raises(rundir.RunDirError, match=r'cem_plan.discount: 0.99 -> 1.0'):
    rundir.check_same_experiment(str(tmp_path / 'new'), old + 'cem_plan.discount = 1.0\n')


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


def test_package_sets_environment_defaults_and_keeps_the_users():
  # Importing planet sets what TensorFlow and MuJoCo read when they load (oneDNN on, EGL, GPU memory growth, so
  # that the EGL renderer and other runs on the same GPU still find memory, XLA command buffers for loops), and never
  # overrides a user's value: other XLA flags are kept beside the default, a command-buffer flag of one's own wins.
  keys = ('TF_ENABLE_ONEDNN_OPTS', 'MUJOCO_GL', 'TF_FORCE_GPU_ALLOW_GROWTH', 'XLA_FLAGS')
  code = f'import os, planet; print(*(os.environ[key] for key in {keys}), sep="|")'

  def values(**user):
    env = {key: value for key, value in os.environ.items() if key not in keys}
    result = subprocess.run([sys.executable, '-c', code], env=dict(env, **user), cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    return result.stdout.strip().split('|')

  loops = '--xla_gpu_enable_command_buffer=+WHILE,+CONDITIONAL'
  assert values() == ['1', 'egl', 'true', loops]
  own = '--xla_gpu_enable_command_buffer='
  assert values(TF_ENABLE_ONEDNN_OPTS='0', MUJOCO_GL='osmesa', TF_FORCE_GPU_ALLOW_GROWTH='false', XLA_FLAGS=own) == [
      '0', 'osmesa', 'false', own]
  assert values(XLA_FLAGS=' --xla_dump_to=/tmp/d ')[3] == f'{loops} --xla_dump_to=/tmp/d'


def test_gpu_report_names_the_gpus_and_the_xla_switch(monkeypatch):
  # A GPU run says which GPUs TensorFlow sees (its own device lines are hidden), how to turn XLA on, and whether
  # XLA's loops run as command buffers (the package's default, unless the user's XLA_FLAGS say otherwise).
  class Device:
    def __init__(self, name):
      self.name = name

  def fake_tf(devices):
    details = {'/physical_device:GPU:0': {'device_name': 'NVIDIA H100 80GB HBM3'}, '/physical_device:GPU:1': {}}
    experimental = type('Experimental', (), {'get_device_details': staticmethod(lambda gpu: details[gpu.name])})
    config = type('Config', (), {'experimental': experimental,
                                 'list_physical_devices': staticmethod(lambda kind: devices if kind == 'GPU' else [])})
    return type('TF', (), {'config': config})

  assert machine.gpu_report(fake_tf([]), False) is None
  two = fake_tf([Device('/physical_device:GPU:0'), Device('/physical_device:GPU:1')])
  assert machine.gpu_report(two, True) == ('GPU: NVIDIA H100 80GB HBM3, /physical_device:GPU:1; XLA on, loops as '
                                       'command buffers')
  assert machine.gpu_report(two, False).endswith('XLA off (--gin_file=gin/gpu.gin turns it on)')
  monkeypatch.setenv('XLA_FLAGS', '--xla_gpu_enable_command_buffer=-WHILE,-CONDITIONAL')
  assert machine.gpu_report(two, True).endswith('; XLA on')


def test_gpu_extra_pins_the_same_tensorflow():
  # `pip install -e '.[gpu]'` must bring the CUDA libraries of the TensorFlow that install_requires pins, not another.
  config = configparser.ConfigParser()
  config.read(os.path.join(ROOT, 'setup.cfg'))
  pins = lambda text: [line.strip() for line in text.splitlines() if line.strip().startswith('tensorflow')]
  version = [pin for pin in pins(config['options']['install_requires']) if pin.startswith('tensorflow==')]
  assert len(version) == 1 and pins(config['options.extras_require']['gpu']) == [
      version[0].replace('tensorflow==', 'tensorflow[and-cuda]==')]


def test_bad_gin_binding_gives_clear_error():
  with pytest.raises(config_lib.ConfigError, match="bad gin configuration.*'RSSM'.*'not_a_parameter'"):
    config_lib.parse([], ['RSSM.not_a_parameter = 3'])
  with pytest.raises(config_lib.ConfigError, match='bad gin configuration'):
    config_lib.parse([], ['NoSuchThing.size = 3'])
  with pytest.raises(config_lib.ConfigError, match='not found'):
    config_lib.parse(['gin/nope.gin'], [])
