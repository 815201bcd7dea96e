#!/usr/bin/env python
"""Regenerate the paper's Table 1 and Figures 4-9 from the runs under results/.

  python scripts/plot.py [--results results] [--out results/figures] [--episode 1000]
  python scripts/plot.py --collect logs/cartpole/planet/seed0     # copy a finished run's small files first

Each figure compares variants (results/<task>/<variant>/seed<N>/) per task panel: the median test return over
seeds and trajectories with the 5-95 percentile band, and the model-free D4PG / A3C final scores as lines.
Missing runs are listed as missing, never drawn as zero. Figure 12 (the true-simulator CEM sweep) and the
true-simulator row of Table 1 come from results/true_sim/<task>.jsonl (scripts/true_sim.py).
"""
import argparse
import csv
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import matplotlib  # pylint: disable=wrong-import-position

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

from planet import analysis  # pylint: disable=wrong-import-position

# Figure -> (title, [(variant directory, label)]). Variant directories are the run-directory names that
# scripts/train.py derives from the gin overlays (e.g. gin/ablations/ssm.gin -> ssm).
FIGURES = {
    'fig4_model_designs': ('Model designs (Fig. 4)', [('planet', 'PlaNet (RSSM)'), ('gru', 'Deterministic (GRU)'),
                                                       ('ssm', 'Stochastic (SSM)')]),
    'fig5_agent_designs': ('Agent designs (Fig. 5)', [('planet', 'PlaNet'), ('random_shooting', 'Random shooting'),
                                                       ('random_collection', 'Random collection')]),
    'fig6_multitask': ('One agent, all tasks (Figs. 6-7)', [('planet', 'Separate agents'),
                                                             ('multitask', 'Single agent')]),
    'fig8_overshooting': ('Latent overshooting (Fig. 8)', [('planet', 'RSSM'), ('overshooting', 'RSSM + overshooting'),
                                                            ('drnn', 'DRNN'), ('drnn-overshooting',
                                                                               'DRNN + overshooting')]),
    'fig9_activation': ('Activation functions (Fig. 9)', [('planet', 'RSSM (ReLU)'), ('elu', 'RSSM (ELU)'),
                                                           ('ssm', 'SSM (ReLU)'), ('ssm-elu', 'SSM (ELU)')]),
}
COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b']


def plot_comparison(name, title, variants, runs, reference, out_dir, tasks=analysis.TASKS):
  """One figure, a panel per task. Returns the list of (task, variant) pairs with no runs."""
  rows = 1 if len(tasks) <= 3 else 2
  cols = -(-len(tasks) // rows)
  fig, axes = plt.subplots(rows, cols, figsize=(max(3.4 * cols, 5.5), 2.6 * rows + 1.0), squeeze=False)
  axes = axes.ravel()
  for ax in axes[len(tasks):]:
    ax.set_visible(False)
  missing = []
  last_episode = 0
  for ax, task in zip(axes, tasks):
    for color, (variant, label) in zip(COLORS, variants):
      selected = [r for r in runs if r.task == task and r.variant == variant]
      episodes, median, low, high, _ = analysis.pooled_curve(selected)
      if not episodes:
        missing.append((task, variant))
        ax.plot([], [], color=color, label=f'{label} (missing)' if task == tasks[0] else None, alpha=0.3)
        continue
      seeds = len({r.seed for r in selected})
      last_episode = max(last_episode, episodes[-1])
      ax.plot(episodes, median, color=color, label=f'{label} ({seeds} seed{"s" * (seeds > 1)})'
              if task == tasks[0] else None)
      ax.fill_between(episodes, low, high, color=color, alpha=0.2, linewidth=0)
    for method, style in (('D4PG', '--'), ('A3C', ':')):
      if method in reference:
        ax.axhline(reference[method][task], color='gray', linestyle=style, linewidth=1,
                   label=f'{method} (1e5 episodes)' if task == tasks[0] else None)
    ax.set_title(analysis.TASK_TITLES.get(task, task), fontsize=9)
    ax.set_xlabel('episodes', fontsize=8)
    ax.set_ylim(0, 1000)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
  for ax in axes[:len(tasks)]:
    ax.set_xlim(0, last_episode or 1000)  # Empty panels show the paper's 1000-episode axis.
  for ax in axes[::cols]:
    ax.set_ylabel('test return', fontsize=8)
  fig.suptitle(title, fontsize=10)
  fig.legend(loc='lower center', ncol=3, fontsize=7, frameon=False)
  fig.tight_layout(rect=(0, 0.75 / (2.6 * rows + 1.0) + 0.05, 1, 0.95))
  for ext in ('png', 'pdf'):
    fig.savefig(os.path.join(out_dir, f'{name}.{ext}'), dpi=150)
  plt.close(fig)
  return missing


def table1(runs, reference, episode, out_dir, results, variant='planet'):
  """Table 1 as markdown and CSV: our score per task beside the published rows. Returns the rows."""
  header = ['method', 'modality', 'episodes'] + list(analysis.TASKS)
  rows = []
  ours = ['PlaNet (this code)', 'pixels', episode or 'last']
  notes = []
  for task in analysis.TASKS:
    score = analysis.final_score([r for r in runs if r.task == task and r.variant == variant], episode)
    if score is None:
      ours.append('')
      notes.append(f'{task}: no run')
    else:
      mean, seeds, trajectories, used = score
      ours.append(f'{mean:.0f}')
      notes.append(f'{task}: {seeds} seed(s), {trajectories} trajectories at episodes {sorted(set(used))}')
  rows.append(ours)
  # Two true-simulator rows: the authors' CEM refit (the default, what produced the paper's row) and Algorithm 2's
  # printed refit.
  for estimator, label in (('std', 'CEM + true simulator (this code)'),
                           ('paper', 'CEM + true simulator (this code, printed refit)')):
    sim_row = [label, 'simulator state', '0']
    for task in analysis.TASKS:
      scores = [r['return'] for r in analysis.true_sim_records(results, task, estimator) if r['settings'] ==
                list(analysis.TRUE_SIM_PAPER)]
      sim_row.append(f'{sum(scores) / len(scores):.0f}' if scores else '')
      if scores:
        notes.append(f'{task}: true-simulator CEM ({label[len("CEM + true simulator "):]}) over '
                     f'{len(scores)} episode(s)')
    rows.append(sim_row)
  for method, scores in reference.items():
    rows.append([method, *_reference_meta(method)] + [f'{scores[t]:.0f}' for t in analysis.TASKS])
  with open(os.path.join(out_dir, 'table1.csv'), 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows(rows)
  with open(os.path.join(out_dir, 'table1.md'), 'w') as f:
    f.write('| ' + ' | '.join(header) + ' |\n|' + '---|' * len(header) + '\n')
    for row in rows:
      f.write('| ' + ' | '.join(str(x) for x in row) + ' |\n')
    f.write('\nOur row: mean test return over seeds x test trajectories at the last test point at or before '
            f'episode {episode or "(any)"}, variant `{variant}`.\n')
    for note in notes:
      f.write(f'- {note}\n')
  return rows


def fig12(results, out_dir, task='cheetah'):
  """Fig. 12: CEM with the true simulator, one knob varied at a time. Returns the path, or None (no records)."""
  variants = [(estimator, analysis.true_sim_records(results, task, estimator)) for estimator in ('std', 'paper')]
  variants = [(estimator, records) for estimator, records in variants if records]
  if not variants:
    return None
  fig, axes = plt.subplots(1, len(analysis.TRUE_SIM_KNOBS), figsize=(12, 2.9))
  for ax, knob in zip(axes, analysis.TRUE_SIM_KNOBS):
    present = set()
    for estimator, records in variants:
      points = analysis.true_sim_sweep(records, knob)
      if points:
        values, means, stds, _ = zip(*points)
        ax.errorbar(values, means, yerr=stds, marker='o', capsize=3, linestyle='-' if estimator == 'std' else '--',
                    label="authors' refit" if estimator == 'std' else 'printed refit')
        present.update(values)
    missing = [v for v in analysis.TRUE_SIM_SWEEP[knob] if v not in present]
    ax.set_xlabel(knob.replace('_', ' ') + (f'\n(missing: {missing})' if missing else ''), fontsize=8)
    ax.set_ylim(0, 1000)
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=6)
  axes[0].set_ylabel('return')
  fig.suptitle(f'CEM with the true simulator, {analysis.TASK_TITLES.get(task, task)} (Fig. 12): one knob varied, '
               'the others at H=12, I=10, J=1000, K=100', fontsize=9)
  fig.tight_layout()
  os.makedirs(out_dir, exist_ok=True)
  path = os.path.join(out_dir, f'fig12_true_sim_{task}.png')
  fig.savefig(path, dpi=150)
  plt.close(fig)
  return path


def _reference_meta(method):
  meta = {'A3C': ('proprioceptive', '100000'), 'D4PG': ('pixels', '100000'), 'PlaNet': ('pixels', '1000'),
          'CEM + true simulator': ('simulator state', '0')}
  return meta.get(method, ('', ''))


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
  path = os.path.join(run.path, 'curve.png')
  fig.savefig(path, dpi=130)
  plt.close(fig)
  return path


def plot_all_runs(runs, reference, out_dir):
  """Every variant found, per task (e.g. the CPU `quick` curve), in one figure."""
  tasks = sorted({r.task for r in runs}, key=lambda t: analysis.TASKS.index(t) if t in analysis.TASKS else 99)
  variants = sorted({r.variant for r in runs})
  if tasks:
    plot_comparison('all_runs', 'All runs in results/', [(v, v) for v in variants], runs, reference, out_dir,
                    tasks=tasks)


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  root = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'results')
  parser.add_argument('--results', default=root)
  parser.add_argument('--out', default=None, help='default: <results>/figures')
  parser.add_argument('--reference', default=os.path.join(root, 'reference', 'table1.csv'))
  parser.add_argument('--episode', type=int, default=None, help='score Table 1 at this episode (default: last)')
  parser.add_argument('--collect', default=None, help='first copy this run directory into results/')
  parser.add_argument('--variant', default=None, help='with --collect: the variant name (default: from path)')
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(message)s')
  if args.collect:
    target = analysis.collect_run(args.collect, args.results, variant=args.variant)
    logging.info('copied %s -> %s', args.collect, target)
  out = args.out or os.path.join(args.results, 'figures')
  os.makedirs(out, exist_ok=True)
  runs = analysis.find_runs(args.results)
  reference = analysis.read_reference(args.reference)
  logging.info('found %d run(s): %s', len(runs), ', '.join(f'{r.task}/{r.variant}/seed{r.seed}' for r in runs))
  table1(runs, reference, args.episode, out, args.results)
  for name, (title, variants) in FIGURES.items():
    missing = plot_comparison(name, title, variants, runs, reference, out)
    if missing:
      logging.info('%s: missing %s', name, ', '.join(f'{t}/{v}' for t, v in missing))
  plot_all_runs(runs, reference, out)
  for run in runs:
    if run.variant.startswith('multitask'):
      continue
    plot_run(run)
  for task in analysis.TASKS:
    if fig12(args.results, out, task):
      logging.info('fig12: true-simulator sweep of %s', task)
  logging.info('wrote Table 1 and figures to %s', out)


if __name__ == '__main__':
  main()
