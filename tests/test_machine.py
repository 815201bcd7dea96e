"""The machine description (planet.machine): the CPU's model and description from /proc/cpuinfo's text."""
import os
import subprocess
import sys

from conftest import ROOT
from planet import machine

CPUINFO = ('processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\ncore id\t: 0\n\n'
           'processor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\ncore id\t: 1\n')


def test_cpu_model_and_description_come_from_cpuinfo(monkeypatch):
  assert machine.cpu_model(CPUINFO) == 'AMD EPYC 9B14'
  assert machine.cpu_model('processor\t: 0\n') == (machine.platform.processor() or machine.platform.machine())
  monkeypatch.setattr(machine, 'cpu_model', lambda cpuinfo=None: 'AMD EPYC 9B14')
  assert machine.cpu_description() == f'CPU AMD EPYC 9B14 x{os.cpu_count()} cores'
  assert machine.cpu_topology(CPUINFO) == '2 cores, 2 threads'


def test_commit_names_this_checkout():
  commit = machine.commit()
  assert len(commit) >= 7 and all(c in '0123456789abcdef' for c in commit)


def test_describe_names_the_first_gpu_else_the_cpu(monkeypatch):
  # Records name the machine: the first GPU as the training line prints it, else the CPU model and core count.
  monkeypatch.setattr(machine, 'gpu_names', lambda tf: ['NVIDIA H100 80GB HBM3', '/physical_device:GPU:1'])
  assert machine.describe(None) == 'NVIDIA H100 80GB HBM3'
  monkeypatch.setattr(machine, 'gpu_names', lambda tf: [])
  name = machine.describe(None)
  assert name.startswith('CPU ') and name.endswith(f' x{os.cpu_count()} cores') and len(name) > len('CPU  x1 cores')


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


def test_cpu_topology_tells_hyperthreads_from_cores():
  block = 'processor\t: {}\nmodel name\t: Xeon\nphysical id\t: 0\ncore id\t\t: {}\n'
  # Two vCPUs that are one core's two hyperthreads, then two separate cores; no core ids: cannot tell.
  assert machine.cpu_topology('\n'.join(block.format(i, 0) for i in range(2))) == '1 core, 2 threads'
  assert machine.cpu_topology('\n'.join(block.format(i, i) for i in range(2))) == '2 cores, 2 threads'
  assert machine.cpu_topology('processor\t: 0\nmodel name\t: X\n') is None


def test_bfloat16_units_come_from_the_cpu_flags():
  flags = 'processor\t: 0\nflags\t\t: fpu sse avx2 avx512f {}\n'
  assert machine.bfloat16_units(flags.format('avx512_bf16 amx_bf16 amx_tile')) == 'AMX'
  assert machine.bfloat16_units(flags.format('avx512_bf16')) == 'AVX512_BF16'
  assert machine.bfloat16_units(flags.format('')) is None and machine.bfloat16_units('') is None


def test_gpu_memory_peak_is_read_from_the_first_gpu(monkeypatch):
  import tensorflow as tf
  assert machine.gpu_memory_peak_mib(tf) is None  # No GPU on the test machines.
  monkeypatch.setattr(tf.config, 'list_physical_devices', lambda kind=None: ['GPU:0'] if kind == 'GPU' else [])
  monkeypatch.setattr(tf.config.experimental, 'get_memory_info',
                      lambda device: {'GPU:0': {'current': 2 ** 20, 'peak': 3 * 2 ** 29}}[device])
  assert machine.gpu_memory_peak_mib(tf) == 1536.0
