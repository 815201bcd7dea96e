#!/usr/bin/env python
"""Evaluate, visualise and probe a trained run directory.

  python scripts/evaluate.py --logdir logs/cartpole/planet/seed0 [--episodes 10]   # scores -> eval.json
  python scripts/evaluate.py --logdir ... --video        # Fig. 10: open-loop prediction strip (PNG) and GIF
  python scripts/evaluate.py --logdir ... --diagnose     # Fig. 11: probes of positions, velocities and reward
Outputs go to <logdir>/analysis/ (and eval.json, which scripts/plot.py --collect copies into results/).
"""
import argparse
import json
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--logdir', required=True)
  parser.add_argument('--checkpoint', default=None, help='default: the latest in <logdir>/checkpoints')
  parser.add_argument('--episodes', type=int, default=10, help='test episodes to score (0: none)')
  parser.add_argument('--video', action='store_true', help='Fig. 10 open-loop video prediction')
  parser.add_argument('--diagnose', action='store_true', help='Fig. 11 state diagnostics')
  parser.add_argument('--context', type=int, default=5)
  parser.add_argument('--horizon', type=int, default=50)
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  logging.getLogger('tensorflow').setLevel(logging.WARNING)
  import numpy as np  # pylint: disable=import-outside-toplevel
  from PIL import Image  # pylint: disable=import-outside-toplevel
  from planet import evaluation, logger  # pylint: disable=import-outside-toplevel

  run = evaluation.Run(args.logdir, args.checkpoint, make_env=args.episodes > 0)
  out = os.path.join(args.logdir, 'analysis')
  os.makedirs(out, exist_ok=True)
  if args.episodes:
    result = evaluation.evaluate(run, args.episodes)
    logging.info('mean test return over %d episodes: %.1f (std %.1f)', args.episodes, result['mean'], result['std'])
  tests = run.episodes('test_episodes') or run.episodes('train_episodes')
  if args.video:
    rows = evaluation.video_prediction(run.model, tests[-1], args.context, args.horizon)
    Image.fromarray(evaluation.strip_image(rows)).save(os.path.join(out, 'openloop_strip.png'))
    logger.write_gif(os.path.join(out, 'openloop.gif'), np.concatenate(list(rows), 1))
    logging.info('wrote %s/openloop_strip.png (rows: truth, prediction, difference) and openloop.gif', out)
  if args.diagnose:
    train = run.episodes('train_episodes')
    predictor, names = evaluation.fit_probes(run.model, train[:-1] or train)
    prediction, truth = evaluation.open_loop_states(run.model, predictor, tests[-1], args.context, args.horizon)
    plot_diagnostics(prediction, truth, names, os.path.join(out, 'diagnostics.png'))
    errors = {name: float(np.sqrt(np.mean((prediction[:, i] - truth[:, i]) ** 2))) for i, name in enumerate(names)}
    with open(os.path.join(out, 'diagnostics.json'), 'w') as f:
      json.dump({'open_loop_rmse': errors, 'context': args.context, 'horizon': len(truth)}, f, indent=1)
    logging.info('wrote %s/diagnostics.png and diagnostics.json', out)


def plot_diagnostics(prediction, truth, names, path):
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  cols = min(4, len(names))
  rows = -(-len(names) // cols)
  fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.2 * rows), squeeze=False)
  for i, ax in enumerate(axes.ravel()):
    if i >= len(names):
      ax.set_visible(False)
      continue
    ax.plot(truth[:, i], color='black', label='true')
    ax.plot(prediction[:, i], color='#d62728', label='open-loop prediction')
    ax.set_title(names[i], fontsize=8)
    ax.tick_params(labelsize=7)
  axes[0][0].legend(fontsize=6)
  fig.suptitle('State diagnostics (Fig. 11): probes on open-loop features vs. the simulator', fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=130)
  plt.close(fig)


if __name__ == '__main__':
  main()
