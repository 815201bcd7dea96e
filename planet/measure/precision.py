"""float32 against bfloat16 (gin/mixed_precision.gin) on the same weights and batches
(scripts/compare_precision.py)."""
import json
import time

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from planet import config as config_lib
from planet import machine
from planet import replay as replay_lib
from planet import rundir
from planet import world_model

PRECISION_TERMS = ('loss', 'image_loss', 'reward_loss', 'kl')


def compare_precision(episodes_dir, gin_files, gin_params=(), steps=100, out=None):
  """Trains three copies of the world model from the same weights on the same batches of `episodes_dir`:
  float32, float32 with other noise draws, and gin/mixed_precision.gin with the first run's draws. Returns one
  record per run (mean loss terms over the last quarter of the steps, median step time), printed as a table.
  """
  replay = replay_lib.Replay(episodes_dir)
  if not replay.num_episodes:
    raise ValueError(f'no episode files in {episodes_dir}')
  gin_files = list(gin_files)
  if not gin_files:
    raise ValueError("give the run's gin files, e.g. --gin_file=gin/cartpole.gin --gin_file=gin/quick.gin")
  rows, tail = [], max(1, steps // 4)
  for name, overlay, stream in (('float32', [], 0), ('float32_other_noise', [], 1),
                                ('bfloat16', ['gin/mixed_precision.gin'], 0)):
    config_lib.parse(gin_files + overlay, list(gin_params))
    batch_size, length = config_lib.query('train.batch_size'), config_lib.query('train.chunk_length')
    tf.random.set_seed(0)  # The same initial weights for every run.
    model = world_model.WorldModel(replay.episodes()[0]['action'].shape[-1])
    learner = world_model.Learner(model, batch_size, length)
    rng = np.random.RandomState(0)  # The same batches for every run.
    history, times = {term: [] for term in PRECISION_TERMS}, []
    for step in tqdm(range(steps), desc=name, leave=False):
      batch = replay.sample(batch_size, length, rng)
      tic = time.perf_counter()
      terms = learner.train_step(batch, tf.constant([stream, step]))
      for term in PRECISION_TERMS:
        history[term].append(float(terms[term]))
      times.append(time.perf_counter() - tic)
    row = dict(name=name, steps=steps, batch_size=batch_size, length=length, gin_files=gin_files + overlay,
               episodes=replay.num_episodes, step_seconds=round(float(np.median(times[1:] or times)), 4),
               device=machine.describe(tf), tf_version=tf.__version__,
               **{f'{term}_last': round(float(np.mean(history[term][-tail:])), 4) for term in PRECISION_TERMS},
               **{f'{term}_first': round(float(np.mean(history[term][:5])), 4) for term in PRECISION_TERMS})
    rows.append(row)
    print(json.dumps(row), flush=True)
    if out:
      rundir.append_jsonl(out, row)
  print(f'\nmean over the last {tail} of {steps} steps')
  print('{:<22}'.format('run') + ''.join(f'{term:>14}' for term in PRECISION_TERMS) + f"{'step s':>10}")
  for row in rows:
    print(f"{row['name']:<22}" + ''.join(f"{row[term + '_last']:>14.3f}" for term in PRECISION_TERMS)
          + f"{row['step_seconds']:>10.3f}")
  return rows
