"""planet/measure/hlo.py and scripts/hlo_loops.py on XLA dumps compiled here (XLA on the CPU, tiny sizes): loops,
their trip counts, and the train step without a host-waiting loop under time_loop.unroll."""
import os
import subprocess
import sys

import pytest

from conftest import ROOT
from planet.measure import hlo

# A scan and its gradient, and the project's train step at gin/debug.gin sizes with the time loops unrolled, each
# compiled by XLA with its optimized HLO dumped.
_COMPILE = '''
import numpy as np
import tensorflow as tf
from planet import config, networks, world_model

weights = tf.Variable(tf.ones([4, 4]))

@tf.function(jit_compile=True)
def toy_scan_gradient(x):
  with tf.GradientTape() as tape:
    loss = tf.reduce_sum(tf.scan(lambda h, x_t: tf.tanh(tf.matmul(h, weights) + x_t), x, tf.zeros([2, 4])))
  return tape.gradient(loss, weights)

toy_scan_gradient(tf.ones([5, 2, 4]))
config.parse(['gin/cartpole.gin', 'gin/debug.gin', 'gin/gpu.gin'], ['time_loop.unroll = True'])
model = world_model.WorldModel(1)
b, l = config.query('train.batch_size'), config.query('train.chunk_length')
learner = world_model.Learner(model, b, l)
batch = {'image': np.zeros((b, l, *networks.IMAGE_SHAPE), np.uint8), 'action': np.zeros((b, l, 1), np.float32),
         'reward': np.zeros((b, l), np.float32)}
learner.train_step(batch, tf.constant([0, 1]))['loss'].numpy()
'''


@pytest.mark.slow
def test_loops_and_trip_counts_of_compiled_functions(tmp_path):
  dump = tmp_path / 'dump'
  env = dict(os.environ, XLA_FLAGS=f'--xla_dump_to={dump}')
  result = subprocess.run([sys.executable, '-c', _COMPILE], cwd=ROOT, env=env, capture_output=True, timeout=600)
  assert result.returncode == 0, result.stderr.decode()[-3000:]
  # The scan's forward loop has a trip count XLA knows (5 steps); TensorFlow's gradient loop has none.
  toy, = hlo.dump_files(str(dump), 'toy_scan_gradient')
  loops = hlo.loops(open(toy).read())
  assert [depth for depth, _, _, _ in loops] == [0, 1, 1] and {trip for _, _, trip, _ in loops[1:]} == {5, None}
  assert all(sum(kinds.values()) > 0 for _, _, _, kinds in loops[1:])
  # The train step with its time loops unrolled: no while loop at all, so none that waits on the host.
  train, = hlo.dump_files(str(dump), 'train_step')
  assert [depth for depth, _, _, _ in hlo.loops(open(train).read())] == [0]
  # The script prints the same, one line per loop.
  printed = subprocess.run([sys.executable, 'scripts/hlo_loops.py', str(dump), '--match', 'toy_scan'], cwd=ROOT,
                           capture_output=True, timeout=120)
  lines = printed.stdout.decode().splitlines()
  assert printed.returncode == 0 and len(lines) == 4 and '5 iterations' in lines[2] + lines[3]
  assert sum('trip count unknown' in line for line in lines) == 1


def test_hlo_loops_script_says_what_to_do_without_a_dump(tmp_path):
  result = subprocess.run([sys.executable, 'scripts/hlo_loops.py', str(tmp_path)], cwd=ROOT, capture_output=True,
                          timeout=120)
  stderr = result.stderr.decode().strip()
  assert result.returncode == 2 and len(stderr.splitlines()) == 1 and 'xla_dump_to' in stderr
