"""PlaNet (Hafner et al., 2019) in TensorFlow Probability.

The only work done at import time is setting three environment defaults, because they must be in place before
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
