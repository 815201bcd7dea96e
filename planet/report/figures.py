"""The paper's figures from results/ (matplotlib; no TensorFlow): Figs. 4-9 as median test-return curves with 5-95
percentile bands per task panel, all runs together, and Fig. 12 from the true-simulator records. `regenerate` writes
them with Table 1 (planet.report.table1) and the figures of runs (planet.report.run_figures). Missing runs are
listed as missing, never drawn as zero.
"""
import logging
import os

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

from planet import tasks as tasks_lib  # pylint: disable=wrong-import-position
from planet.experiments import matrix  # pylint: disable=wrong-import-position
from planet.report import analysis  # pylint: disable=wrong-import-position
from planet.report import run_figures  # pylint: disable=wrong-import-position
from planet.report import table1  # pylint: disable=wrong-import-position

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
# The same-seed runs that compare the convs in float32 and in bfloat16 (docs/performance.md, Adopted).
PRECISION_PAIR = ('precision_cartpole', 'cartpole', 1, [('quick', 'float32'),
                                                       ('quick-mixed_precision', 'bfloat16 convs')])
COLORS = run_figures.COLORS


def plot_comparison(name, title, variants, runs, reference, out_dir, tasks=None, checked_only=True):
  """One figure, a panel per task (default: every registered task). Returns the (task, variant) pairs with no runs.
  A curve takes only runs whose settings are what their name means (`checked_only`; all_runs.png draws every run)."""
  tasks = list(tasks or tasks_lib.names())
  rows = 1 if len(tasks) <= 3 else 2
  cols = -(-len(tasks) // rows)
  width = max(3.4 * cols, 5.5)
  # The legend below the panels: as many columns as its longest label allows (about 0.06 inch a character).
  entries = len(variants) + 2
  ncol = max(1, min(3, int(width // (0.06 * max(len(label) for _, label in variants) + 0.6))))
  legend = 0.2 * -(-entries // ncol) + 0.15
  height = 2.6 * rows + 0.45 + legend
  fig, axes = plt.subplots(rows, cols, figsize=(width, height), squeeze=False)
  axes = axes.ravel()
  for ax in axes[len(tasks):]:
    ax.set_visible(False)
  missing = []
  last_episode = 0
  for ax, task in zip(axes, tasks):
    last_episode = max(last_episode, _panel(ax, task, variants, runs, reference, checked_only, task == tasks[0],
                                            missing))
  for ax in axes[:len(tasks)]:
    ax.set_xlim(0, last_episode or 1000)  # Empty panels show the paper's 1000-episode axis.
  for ax in axes[::cols]:
    ax.set_ylabel('test return', fontsize=8)
  fig.suptitle(title, fontsize=10)
  fig.legend(loc='lower center', ncol=ncol, fontsize=7, frameon=False)
  fig.tight_layout(rect=(0, legend / height, 1, 1 - 0.3 / height))
  for ext in ('png', 'pdf'):  # No creation date in the PDF: unchanged figures regenerate byte for byte.
    fig.savefig(os.path.join(out_dir, f'{name}.{ext}'), dpi=150, metadata={'CreationDate': None} if ext == 'pdf' else None)
  plt.close(fig)
  return missing


def _panel(ax, task, variants, runs, reference, checked_only, labelled, missing):
  """One task's panel of a comparison: each variant's median curve and 5-95 band, the published baselines as lines.
  Labels only where `labelled` (the figure's legend reads the first panel); appends (task, variant) pairs without
  runs to `missing`. Returns the last episode drawn (0 if none)."""
  last_episode = 0
  for color, (variant, label) in zip(COLORS, variants):
    selected = [r for r in runs if r.task == task and r.variant == variant
                and (r.settings[0] == 'checked' or not checked_only)]
    episodes, median, low, high, _ = analysis.pooled_curve(selected)
    if not episodes:
      missing.append((task, variant))
      ax.plot([], [], color=color, label=f'{label} (missing)' if labelled else None, alpha=0.3)
      continue
    seeds = len({r.seed for r in selected})
    last_episode = max(last_episode, episodes[-1])
    # Reduced-compute runs (gin/quick.gin) thin and dash-dotted, runs at the paper's settings solid.
    style = dict(linewidth=1.1, linestyle='-.') if matrix.reduced_compute(variant) else dict(linewidth=1.8)
    ax.plot(episodes, median, color=color, label=f'{label} ({seeds} seed{"s" * (seeds > 1)})' if labelled else None,
            **style)
    ax.fill_between(episodes, low, high, color=color, alpha=0.2, linewidth=0)
  for method, style in (('D4PG', '--'), ('A3C', ':')):
    if task in reference.get(method, {}):
      ax.axhline(reference[method][task], color='gray', linestyle=style, linewidth=1,
                 label=f'{method} (1e5 episodes)' if labelled else None)
  ax.set_title(tasks_lib.title(task), fontsize=9)
  ax.set_xlabel('episodes', fontsize=8)
  ax.set_ylim(0, 1000)
  ax.tick_params(labelsize=7)
  ax.grid(alpha=0.3)
  return last_episode


# Fig. 12 of the paper: CEM with the true simulator on cheetah run over the planner grid; its returns span 132-837.
FIG12_TASK = 'cheetah'
FIG12_PAPER_RANGE = (132, 837)


def fig12(results, out_dir, task=FIG12_TASK):
  """Fig. 12: CEM with the true simulator, one knob varied at a time around the paper's setting (its value marked),
  each point the mean over its episodes with their standard deviation and n. Returns the path, or None where no
  setting off the paper's has episodes (the paper's setting alone is Table 1's cell, not a sweep)."""
  variants = [(estimator, analysis.true_sim_records(results, task, estimator)) for estimator in ('std', 'paper')]
  panels = {knob: [(estimator, analysis.true_sim_sweep(records, knob)) for estimator, records in variants]
            for knob in matrix.CEM_SWEEP}
  settings = {(knob, value) for knob, lines in panels.items() for _, points in lines for value, *_ in points}
  if all(value == getattr(matrix.CEM_PAPER, knob) for knob, value in settings):
    return None
  fig, axes = plt.subplots(1, len(matrix.CEM_SWEEP), figsize=(13, 3.3))
  for ax, (knob, lines) in zip(axes, panels.items()):
    for estimator, points in lines:
      if not points:
        continue
      values, means, stds, counts = zip(*points)
      ax.errorbar(values, means, yerr=stds, marker='o', capsize=3, linestyle='-' if estimator == 'std' else '--',
                  label=("authors' refit" if estimator == 'std' else 'printed refit') + ': mean +- std over n')
      for value, mean, count in zip(values, means, counts):
        ax.annotate(f'n={count}', (value, mean), textcoords='offset points', xytext=(0, 6), fontsize=6,
                    ha='center')
    ax.axvline(getattr(matrix.CEM_PAPER, knob), color='gray', linestyle=':', linewidth=1)  # The paper's setting.
    ax.axhspan(*FIG12_PAPER_RANGE, color='gray', alpha=0.08, linewidth=0)
    missing = [v for v in matrix.CEM_SWEEP[knob] if (knob, v) not in settings]
    grid = matrix.CEM_SWEEP[knob]  # The grid's span, whether or not each value has episodes yet.
    if max(grid) / min(grid) >= 20:  # Candidates and top K: a log axis keeps 10, 30 and 100 apart.
      ax.set_xlim(min(grid) / 1.5, max(grid) * 1.5)  # Before the scale: one point's own limits would be equal.
      ax.set_xscale('log')
    else:
      ax.set_xlim(min(grid) - 0.06 * (max(grid) - min(grid)), max(grid) + 0.06 * (max(grid) - min(grid)))
    ax.set_xticks(grid, [str(value) for value in grid])
    ax.minorticks_off()
    ax.set_xlabel(knob.replace('_', ' ') + (f'\n(no episodes: {missing})' if missing else ''), fontsize=8)
    ax.set_ylim(0, 1000)
    ax.grid(alpha=0.3)
  axes[0].legend(fontsize=6, loc='lower right')
  axes[0].set_ylabel('return')
  fig.suptitle(f'CEM with the true simulator, {tasks_lib.title(task)} (Fig. 12): one knob varied, the others at '
               f'H=12, I=10, J=1000, K=100 (dotted); shaded: the paper\'s returns, {FIG12_PAPER_RANGE[0]}-'
               f'{FIG12_PAPER_RANGE[1]}', fontsize=8)
  fig.tight_layout()
  os.makedirs(out_dir, exist_ok=True)
  path = os.path.join(out_dir, f'fig12_true_sim_{task}.png')
  fig.savefig(path, dpi=150)
  plt.close(fig)
  return path


def plot_all_runs(runs, reference, out_dir):
  """Every run name found, per task, in one figure, each labelled with the machine it ran on and, where its
  settings are not what its name means, why (e.g. the CPU `quick` curves beside a GPU run at the paper's settings)."""
  order = tasks_lib.names()
  tasks = sorted({r.task for r in runs}, key=lambda t: order.index(t) if t in order else len(order))
  variants = []
  for variant in sorted({r.variant for r in runs}, key=lambda v: (matrix.reduced_compute(v), v)):
    selected = [r for r in runs if r.variant == variant]
    states = {r.settings[0] for r in selected}
    kind = 'reduced compute' if matrix.reduced_compute(variant) else 'paper settings'
    label = f'{kind}: {variant} ({analysis.machines(selected)})' + (
        '' if states == {'checked'} else ', settings unknown' if 'unknown' in states else ', settings differ')
    variants.append((variant, label))
  if tasks:
    plot_comparison('all_runs', 'All runs in results/ (solid: the paper\'s settings; dash-dotted: reduced compute, '
                    'gin/quick.gin)', variants, runs,
                    reference, out_dir, tasks=tasks, checked_only=False)


def regenerate(results, out, reference_path, episode=None):
  """Table 1, Figs. 4-9, every run's curve and Fig. 12 from `results` into `out`. Returns the runs found."""
  os.makedirs(out, exist_ok=True)
  runs = analysis.find_runs(results)
  reference = analysis.read_reference(reference_path)
  logging.info('found %d run(s): %s', len(runs), ', '.join(f'{r.task}/{r.config}/seed{r.seed}' for r in runs))
  table1.write(runs, reference, episode, out, results)
  for line in table1.not_drawn(runs):
    logging.info('Table 1 does not draw %s', line)
  for name, (title, variants) in FIGURES.items():
    missing = plot_comparison(name, title, variants, runs, reference, out)
    if missing:
      logging.info('%s: missing %s', name, ', '.join(f'{t}/{v}' for t, v in missing))
  plot_all_runs(runs, reference, out)
  if run_figures.plot_reduced_compute(runs, reference, out):
    logging.info('reduced_compute: the reduced-compute runs per task')
  for run in runs:
    if not run.variant.startswith('multitask'):
      run_figures.plot_run(run)
  if run_figures.plot_same_seed(runs, out, *PRECISION_PAIR):
    logging.info('%s: the same-seed float32 and bfloat16 runs', PRECISION_PAIR[0])
  if fig12(results, out):
    logging.info('fig12: the true-simulator sweep of %s', FIG12_TASK)
  else:
    logging.info('fig12: no true-simulator episodes of %s off the paper\'s setting yet (python scripts/sweep.py '
                 'fig12)', FIG12_TASK)
  logging.info('wrote Table 1 and figures to %s', out)
  return runs
