"""PlaNet (Hafner et al., 2019) in TensorFlow Probability.

The only work done at import time is setting environment defaults, because they must be in place before
TensorFlow or MuJoCo are first imported by any module of this package. A value the user set is never changed.
"""
import os

# Measured on the 2-core AMD CPUs here: without oneDNN the decoder's transposed convolutions run 16x slower.
os.environ.setdefault('TF_ENABLE_ONEDNN_OPTS', '1')
# Headless rendering; EGL works on GPUs and, through Mesa, on CPUs. (Used by the env worker processes.)
os.environ.setdefault('MUJOCO_GL', 'egl')
# On a GPU, TensorFlow would otherwise reserve nearly all its memory at the first GPU op; the env workers render
# through EGL on the same GPU, and sweeps may put several runs on one GPU, so memory grows as needed instead.
os.environ.setdefault('TF_FORCE_GPU_ALLOW_GROWTH', 'true')
# On a GPU, XLA replays each while loop's kernels as one CUDA graph, so the train step's gradient loop (whose trip
# count XLA cannot prove) no longer waits on the host after every step (as XLA's source reads: WhileThunk); the
# measured gain is in docs/performance.md. XLA drops it by itself where the CUDA
# driver or runtime is older than 12.3, and CPUs ignore it. Kept out where the user's XLA_FLAGS set command buffers
# themselves; XLA's own default is `--xla_gpu_enable_command_buffer=-WHILE,-CONDITIONAL`.
XLA_DEFAULT_FLAGS = ('--xla_gpu_enable_command_buffer=+WHILE,+CONDITIONAL',)


def merge_flags(base, override):
  """Two XLA_FLAGS values as one: the flags of `base` whose name `override` does not set, then those of `override`
  ('--a=1 --b=2', '--b=3' -> '--a=1 --b=3')."""
  names = {flag.split('=')[0] for flag in (override or '').split()}
  return ' '.join([flag for flag in (base or '').split() if flag.split('=')[0] not in names]
                  + (override or '').split())


os.environ['XLA_FLAGS'] = merge_flags(' '.join(XLA_DEFAULT_FLAGS), os.environ.get('XLA_FLAGS'))
