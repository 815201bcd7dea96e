"""Figures of runs rather than of the paper (matplotlib; no TensorFlow): each run's own curve, the reduced-compute
runs per task, runs of one seed side by side, and the state diagnostics of Fig. 11 (scripts/evaluate.py).
planet.report.figures draws the paper's figures and calls these."""
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.lines  # pylint: disable=wrong-import-position
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

from planet import rundir  # pylint: disable=wrong-import-position
from planet import tasks as tasks_lib  # pylint: disable=wrong-import-position
from planet.report import analysis  # pylint: disable=wrong-import-position

COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b']


def plot_run(run, seed_episodes=5):
  """One run's own curve into its results directory: returns over episodes and the model's errors."""
  records = [r for r in run.records if 'episodes' in r]
  if not records:
    return None
  fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
  left.plot([r['episodes'] for r in records], [r['train_return'] for r in records], '.', color='#999999',
            label='train episodes (with exploration noise)')
  tests = [r for r in records if r.get('test_return') is not None]
  left.plot([r['episodes'] for r in tests], [r['test_return'] for r in tests], 'o-', color='#1f77b4',
            label='test episodes (no noise)')
  seeds = [r['train_return'] for r in records[:seed_episodes]]
  if seeds:
    left.axhline(sum(seeds) / len(seeds), color='#d62728', linestyle='--',
                 label=f'mean of the {len(seeds)} random seed episodes')
  left.set_xlabel('episodes')
  left.set_ylabel('return')
  left.grid(alpha=0.3)
  left.legend(fontsize=7)
  mse = [r for r in records if r.get('openloop_mse') is not None]
  right.plot([r['episodes'] for r in mse], [r['openloop_mse'] for r in mse], 'o-', color='#2ca02c',
             label='open-loop image MSE (45 steps after 5 context)')
  right.set_xlabel('episodes')
  right.set_ylabel('open-loop MSE', color='#2ca02c')
  right.grid(alpha=0.3)
  losses = [r for r in records if r.get('reward_loss') is not None]
  if losses:
    twin = right.twinx()
    twin.plot([r['episodes'] for r in losses], [r['reward_loss'] for r in losses], color='#ff7f0e',
              label='reward NLL (training)')
    twin.set_ylabel('reward NLL', color='#ff7f0e')
  hours = records[-1].get('wall_time', 0) / 3600
  fig.suptitle(f'{run.task} / {run.variant} / seed{run.seed}: {len(records)} episodes, '
               f"{records[-1].get('grad_steps', 0)} grad steps, {hours:.1f} h wall time", fontsize=9)
  fig.tight_layout()
  path = rundir.RunDir(run.path).curve
  fig.savefig(path, dpi=130)
  plt.close(fig)
  return path


def plot_reduced_compute(runs, reference, out_dir, variant='quick'):
  """Table 1's reduced-compute row as curves, a panel per task (`reduced_compute.png`): each seed's test returns (no
  exploration noise) and its training returns (with it), against the mean of the runs' random seed episodes, A3C
  and the paper's PlaNet after 1000 episodes. Only runs whose settings are what `variant` means. Returns the path,
  or None without such runs."""
  selected = [r for r in runs if r.variant == variant and r.settings[0] == 'checked']
  if not selected:
    return None
  tasks = tasks_lib.names()
  cols = 3
  fig, axes = plt.subplots(-(-len(tasks) // cols), cols, figsize=(11, 6.4), squeeze=False)
  for ax, task in zip(axes.ravel(), tasks):
    reduced_compute_panel(ax, task, [r for r in selected if r.task == task], reference)
  for ax in axes.ravel()[len(tasks):]:
    ax.set_visible(False)
  handles = [
      matplotlib.lines.Line2D([], [], color=COLORS[0], marker='o', markersize=3, linewidth=1.1,
                              label='test episodes (no noise), one colour per seed'),
      matplotlib.lines.Line2D([], [], color=COLORS[0], marker='.', linestyle='', alpha=0.35,
                              label='training episodes (with exploration noise)'),
      matplotlib.lines.Line2D([], [], color='black', linestyle='--', linewidth=1,
                              label='random seed episodes (mean)'),
      matplotlib.lines.Line2D([], [], color='gray', linestyle=':', label='A3C (1e5 episodes)'),
      matplotlib.lines.Line2D([], [], color='gray', linestyle='-.', label='PlaNet, paper (1000 episodes)')]
  fig.legend(handles=handles, loc='lower center', ncol=3, fontsize=7, frameon=False)
  fig.suptitle(f'Reduced compute ({variant}: gin/quick.gin), {analysis.machines(selected)}', fontsize=10)
  fig.tight_layout(rect=(0, 0.07, 1, 0.97))
  path = os.path.join(out_dir, 'reduced_compute.png')
  fig.savefig(path, dpi=130)
  plt.close(fig)
  return path


def reduced_compute_panel(ax, task, runs, reference):
  """One task of `plot_reduced_compute`. Returns the mean return of the runs' random seed episodes it draws (None
  without runs)."""
  ax.set_xlabel('episodes', fontsize=8)
  ax.set_ylim(0, 1000)
  ax.tick_params(labelsize=7)
  ax.grid(alpha=0.3)
  if not runs:
    ax.set_title(f'{tasks_lib.title(task)}: no run yet', fontsize=9)
    return None
  for color, run in zip(COLORS, sorted(runs, key=lambda r: r.seed)):
    records = [r for r in run.records if 'episodes' in r and 'train_return' in r]
    ax.plot([r['episodes'] for r in records], [r['train_return'] for r in records], '.', color=color, alpha=0.35,
            markersize=3)
    points = sorted(analysis.test_points(run.records).items())
    ax.plot([e for e, _ in points], [sum(v) / len(v) for _, v in points], 'o-', color=color, markersize=3,
            linewidth=1.1)
  summaries = [analysis.run_summary(run) for run in runs]
  seed_means = [summary['seed_mean'] for summary in summaries if summary['seed_mean'] is not None]
  random_mean = sum(seed_means) / len(seed_means) if seed_means else None
  if random_mean is not None:
    ax.axhline(random_mean, color='black', linestyle='--', linewidth=1)
  for method, style in (('A3C', ':'), ('PlaNet', '-.')):
    if task in reference.get(method, {}):
      ax.axhline(reference[method][task], color='gray', linestyle=style, linewidth=1)
  last = max(summary['episodes'] for summary in summaries)
  ax.set_xlim(0, max(last, 10))
  ax.set_title(f'{tasks_lib.title(task)}: {len(runs)} seed{"s" * (len(runs) > 1)}, up to {last} episodes', fontsize=9)
  return random_mean


def plot_same_seed(runs, out_dir, name, task, seed, variants):
  """Runs of one task and seed that differ in one setting (`variants`: [(run name, what it changed)]), drawn
  episode by episode: returns, and the image and reward losses of training. None unless all of them are there."""
  chosen = [next((r for r in runs if (r.task, r.variant, r.seed) == (task, v, seed)), None) for v, _ in variants]
  if None in chosen:
    return None
  fig, axes = plt.subplots(1, 3, figsize=(12, 3.2))
  for run, (variant, label), color in zip(chosen, variants, COLORS):
    records = [r for r in run.records if 'episodes' in r]
    tests = [r for r in records if r.get('test_return') is not None]
    axes[0].plot([r['episodes'] for r in tests], [r['test_return'] for r in tests], 'o-', color=color,
                 label=f'{variant}: {label}, tests')
    axes[0].plot([r['episodes'] for r in records], [r['train_return'] for r in records], '.', color=color, alpha=0.4,
                 label=f'{variant}: training episodes')
    for ax, key in zip(axes[1:], ('image_loss', 'reward_loss')):
      losses = [r for r in records if r.get(key) is not None]
      ax.plot([r['episodes'] for r in losses], [r[key] for r in losses], color=color, label=variant)
  for ax, ylabel in zip(axes, ('return', 'image NLL (mean of the episode\'s updates)', 'reward NLL (mean of its updates)')):
    ax.set_xlabel('episodes')
    ax.set_ylabel(ylabel, fontsize=8)
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=6)
  axes[1].legend(fontsize=7)
  fig.suptitle(f'{task}, seed {seed}: ' + ' against '.join(v for v, _ in variants), fontsize=9)
  fig.tight_layout()
  path = os.path.join(out_dir, f'{name}.png')
  fig.savefig(path, dpi=130)
  plt.close(fig)
  return path


def plot_diagnostics(prediction, truth, names, path):
  """Fig. 11: probe predictions from open-loop features against the simulator's true quantities."""
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
