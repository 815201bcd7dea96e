"""The machine a run or a measurement names, in one place: the CPU's model, cores and threads, the GPUs TensorFlow
sees and whether XLA is on for them, the repository's commit; and TensorFlow imported quietly.

No TensorFlow at import: functions that need it take the module (`tf`) as an argument.
"""
import importlib
import os
import platform
import subprocess

import planet
from planet import gin_text


def import_tensorflow(verbose=False):
  """Imports TensorFlow quietly: its C++ start-up lines (and, on a machine without an NVIDIA driver, the
  'failed call to cuInit' error) are hidden unless `verbose` or the user set TF_CPP_MIN_LOG_LEVEL. Call before
  anything imports TensorFlow (parsing gin/base.gin does). Returns the module."""
  if verbose:
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '0')
    return importlib.import_module('tensorflow')
  no_driver = not os.path.exists('/dev/nvidiactl') and 'CUDA_VISIBLE_DEVICES' not in os.environ
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3' if no_driver else '2')
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  os.dup2(devnull, 2)  # The lines written before TensorFlow reads its log level come from C++: no Python filter.
  try:
    tf = importlib.import_module('tensorflow')
    tf.config.list_physical_devices('GPU')
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)
  return tf


def commit():
  """The repository's current commit (short hash), '' where git cannot tell: what a record was measured with."""
  try:
    return subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, check=False,
                          cwd=gin_text.REPO_ROOT).stdout.strip()
  except OSError:
    return ''


def _cpuinfo(text=None):
  """/proc/cpuinfo's text (or `text` as given); '' where it cannot be read."""
  if text is not None:
    return text
  try:
    with open('/proc/cpuinfo') as f:
      return f.read()
  except OSError:
    return ''


def cpu_model(cpuinfo=None):
  """The CPU's model name from /proc/cpuinfo (or its text), else the platform's name."""
  return next((line.split(':', 1)[1].strip() for line in _cpuinfo(cpuinfo).splitlines()
               if line.startswith('model name')), platform.processor() or platform.machine())


def bfloat16_units(cpuinfo=None):
  """'AMX' or 'AVX512_BF16' where the CPU computes bfloat16 in hardware (/proc/cpuinfo's flags, or its text), else
  None: where gin/mixed_precision.gin speeds the train step up on a CPU."""
  flags = set()
  for line in _cpuinfo(cpuinfo).splitlines():
    if line.startswith('flags'):
      flags.update(line.split(':', 1)[1].split())
  return 'AMX' if 'amx_bf16' in flags else 'AVX512_BF16' if 'avx512_bf16' in flags else None


def cpu_description():
  """'CPU <model> x<N> cores': the machine a CPU measurement or run names."""
  return f'CPU {cpu_model()} x{os.cpu_count()} cores'


def describe(tf):
  """The first GPU's name, or the CPU's description: the machine a measurement names."""
  gpus = gpu_names(tf)
  return gpus[0] if gpus else cpu_description()


def cpu_topology(cpuinfo=None):
  """'<physical cores> cores, <logical CPUs> threads' from /proc/cpuinfo (or its text): the two differ where CPUs
  are hyperthreads, which share one core's FMA units (a 2-vCPU VM may be one core). None where it cannot tell."""
  cpuinfo = _cpuinfo(cpuinfo)
  cores, logical = set(), 0
  for block in cpuinfo.strip().split('\n\n'):
    fields = dict(line.split(':', 1) for line in block.splitlines() if ':' in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    if 'processor' in fields:
      logical += 1
      if 'core id' in fields:
        cores.add((fields.get('physical id'), fields['core id']))
  plural = lambda n, word: f"{n} {word}{'s' if n != 1 else ''}"
  return f"{plural(len(cores), 'core')}, {plural(logical, 'thread')}" if cores else None


def gpu_names(tf):
  """The names of the GPUs that TensorFlow sees (the model, else the device path), in order; [] without one."""
  return [tf.config.experimental.get_device_details(gpu).get('device_name', gpu.name)
          for gpu in tf.config.list_physical_devices('GPU')]


def gpu_memory_peak_mib(tf):
  """The most memory TensorFlow has held on its first GPU since the process started, in MiB (the env workers'
  rendering memory not included); None without a GPU."""
  if not tf.config.list_physical_devices('GPU'):
    return None
  return tf.config.experimental.get_memory_info('GPU:0')['peak'] / 2 ** 20


def gpu_report(tf, jit_compile):
  """One line naming the GPUs that TensorFlow sees, whether XLA is on and whether its loops run as command buffers
  (planet.XLA_DEFAULT_FLAGS, unless XLA_FLAGS set them otherwise); TensorFlow's own device lines are hidden by
  `import_tensorflow`. None without a GPU."""
  names = gpu_names(tf)
  if not names:
    return None
  if not jit_compile:
    return f"GPU: {', '.join(names)}; XLA off (--gin_file=gin/gpu.gin turns it on)"
  loops = all(flag in os.environ.get('XLA_FLAGS', '').split() for flag in planet.XLA_DEFAULT_FLAGS)
  return f"GPU: {', '.join(names)}; XLA on" + (', loops as command buffers' if loops else '')
