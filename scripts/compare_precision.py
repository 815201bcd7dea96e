#!/usr/bin/env python
"""Does mixed precision train like float32? Same initial weights, same batches from a run's episodes:

  python scripts/compare_precision.py --episodes logs/cartpole/quick/seed0/train_episodes \
      --gin_file=gin/cartpole.gin --gin_file=gin/quick.gin --steps 100 [--out results/benchmarks/precision_X.jsonl]

Trains three copies of the world model: float32, float32 with other noise draws (dequantization noise and
posterior samples), and gin/mixed_precision.gin with the first run's draws. Reports the mean of each loss term
over the last quarter of the steps and the median train step time: bfloat16 matches when it lies as close to
float32 as the other noise draws do. One JSON line per run, then a table.
"""
import argparse
import json
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from planet import cli  # pylint: disable=wrong-import-position

TERMS = ('loss', 'image_loss', 'reward_loss', 'kl')


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--episodes', required=True, help='a folder of episode .npz files (a run\'s train_episodes)')
  parser.add_argument('--gin_file', action='append', default=[],
                      help="the run's gin files, e.g. gin/cartpole.gin then gin/quick.gin (repeatable)")
  parser.add_argument('--gin_param', action='append', default=[], help='extra gin binding (repeatable)')
  parser.add_argument('--steps', type=int, default=100)
  parser.add_argument('--out', default=None, help='append the JSON lines to this file')
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.WARNING)
  import numpy as np  # pylint: disable=import-outside-toplevel
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  from planet import replay as replay_lib, world_model  # pylint: disable=import-outside-toplevel,multiple-imports

  replay = replay_lib.Replay(args.episodes)
  if not replay.num_episodes:
    parser.error(f'no episode files in {args.episodes}')
  if not args.gin_file:
    parser.error('give the run\'s gin files, e.g. --gin_file=gin/cartpole.gin --gin_file=gin/quick.gin')
  gin_files = args.gin_file
  rows, tail = [], max(1, args.steps // 4)
  for name, overlay, stream in (('float32', [], 0), ('float32_other_noise', [], 1),
                                ('bfloat16', ['gin/mixed_precision.gin'], 0)):
    cli.parse(gin_files + overlay, args.gin_param)
    batch_size, length = cli.query('train.batch_size'), cli.query('train.chunk_length')
    tf.random.set_seed(0)  # The same initial weights for every run.
    model = world_model.WorldModel(replay.episodes()[0]['action'].shape[-1])
    learner = world_model.Learner(model, batch_size, length)
    rng = np.random.RandomState(0)  # The same batches for every run.
    history, times = {term: [] for term in TERMS}, []
    for step in tqdm(range(args.steps), desc=name, leave=False):
      batch = replay.sample(batch_size, length, rng)
      tic = time.perf_counter()
      out = learner.train_step(batch, tf.constant([stream, step]))
      for term in TERMS:
        history[term].append(float(out[term]))
      times.append(time.perf_counter() - tic)
    row = dict(name=name, steps=args.steps, batch_size=batch_size, length=length, gin_files=gin_files + overlay,
               episodes=replay.num_episodes, step_seconds=round(float(np.median(times[1:] or times)), 4),
               device=cli.describe_device(), tf_version=tf.__version__,
               **{f'{term}_last': round(float(np.mean(history[term][-tail:])), 4) for term in TERMS},
               **{f'{term}_first': round(float(np.mean(history[term][:5])), 4) for term in TERMS})
    rows.append(row)
    print(json.dumps(row), flush=True)
    if args.out:
      with open(args.out, 'a') as f:
        f.write(json.dumps(row) + '\n')
  print(f'\nmean over the last {tail} of {args.steps} steps')
  print('{:<22}'.format('run') + ''.join(f'{term:>14}' for term in TERMS) + f"{'step s':>10}")
  for row in rows:
    print(f"{row['name']:<22}" + ''.join(f"{row[term + '_last']:>14.3f}" for term in TERMS)
          + f"{row['step_seconds']:>10.3f}")


if __name__ == '__main__':
  main()
