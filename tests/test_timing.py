"""Hot-path timing (planet/measure/timing.py): the matmuls alone stay computed under XLA; the update timing goes
through the training loop's own update."""
import threading

from planet import config as config_lib
from planet import world_model
from planet.measure import timing


def test_matmuls_alone_are_not_optimised_away_by_xla():
  # XLA turns a loop of `matmul(a, b)[0, 0]` into one row of one matmul (25x "faster" at the plan's sizes): the
  # compiled loop must take about as long as the plain one, not a fraction of it.
  shapes = [(400, 256, 256, 30)]
  plain = min(timing.matmuls_alone(shapes, 3) for _ in range(2))
  xla = min(timing.matmuls_alone(shapes, 3, jit=True) for _ in range(2))
  assert xla > 0.3 * plain, (xla, plain)


def test_update_times_run_each_variant_through_the_training_loop():
  # updates.update as a run calls it, fed by the replay's prefetch thread: with numpy batches and with batches the
  # prefetch thread copied to a device (the CPU here: the code path of train.prefetch_device). Each variant runs one
  # warm-up update and its rounds' steps, and no prefetch thread is left behind.
  config_lib.parse(['gin/cartpole.gin', 'gin/debug.gin'], [])
  sizes = dict(batch=config_lib.query('train.batch_size'), length=config_lib.query('train.chunk_length'), action=1)
  model = world_model.WorldModel(1)
  learner = world_model.Learner(model, sizes['batch'], sizes['length'])
  threads = threading.active_count()
  times = timing.update_times(learner, sizes, steps=3, rounds=2, device='/CPU:0')
  assert set(times) == {'numpy', '/CPU:0'} and all(seconds > 0 for seconds in times.values())
  assert int(learner.optimizer.step) == 2 * (1 + 2 * 3)
  assert threading.active_count() == threads
