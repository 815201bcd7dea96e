"""Table 1 from results/: this code's PlaNet rows (each cell with its episode, seeds and n), the true-simulator rows,
the published rows beside them, and the runs no row takes with the reason; as CSV and markdown."""
import csv
import os

from planet import tasks as tasks_lib
from planet.experiments import matrix
from planet.report import analysis

# Table 1's rows of this code's PlaNet: (run name under results/<task>/, label). A run enters its row only when its
# recorded configuration is what the name means (analysis.check_settings); every other run is listed as not drawn.
TABLE_ROWS = (('planet', "PlaNet, paper settings (this code)"),
              ('quick', 'PlaNet, reduced compute: gin/quick.gin (this code)'))


def rows(runs, episode=None):
  """Our PlaNet rows of Table 1: ([label, modality, episodes, cell per task]) and notes. A cell is the mean over
  seeds of each seed's last test points (at or before `episode`) holding at least five test trajectories
  (analysis.final_score), with the episodes, the seeds and n (trajectories) behind it; a missing cell stays empty."""
  ours, notes = [], []
  for config, label in TABLE_ROWS:
    row = [label, 'pixels', 'per cell']
    for task in tasks_lib.names():
      selected = [r for r in runs if r.task == task and r.variant == config and r.settings[0] == 'checked']
      score = analysis.final_score(selected, episode)
      if score is None:
        row.append('')
        continue
      mean, seeds, trajectories, used = score
      episodes = '/'.join(f'{first}-{last}' if first != last else str(last) for first, last in sorted(set(used)))
      row.append(f'{mean:.0f} (ep {episodes}; {seeds} seed{"s" * (seeds > 1)}, n={trajectories})')
      notes.append(f'{config}, {task}: ' + ', '.join(f'{r.task}/{r.config}/seed{r.seed}' for r in selected) +
                   f' on {analysis.machines(selected)}')
    ours.append(row)
  return ours, notes


def not_drawn(runs):
  """['<run>: <reason>'] for every run that no PlaNet row of Table 1 takes."""
  rows = {config for config, _ in TABLE_ROWS}
  lines = []
  for run in sorted({r.path: r for r in runs}.values(), key=lambda r: r.path):
    state, reason = run.settings
    name = f'{run.task}/{run.config}/seed{run.seed}'
    if state != 'checked':
      lines.append(f'{name}: {reason}')
    elif run.variant not in rows:
      lines.append(f'{name}: `{run.config}` is not a Table 1 row (all_runs.png draws it)')
  return lines


def true_sim_rows(results):
  """Table 1's true-simulator rows: the authors' CEM refit (the default) and Algorithm 2's printed refit, each cell
  the mean return at the paper's planner setting with n (episodes)."""
  rows = []
  for estimator, label in (('std', 'CEM + true simulator (this code)'),
                           ('paper', 'CEM + true simulator (this code, printed refit)')):
    row = [label, 'simulator state', '0']
    for task in tasks_lib.names():
      scores = [r['return'] for r in analysis.true_sim_records(results, task, estimator)
                if r['settings'] == list(matrix.CEM_PAPER)]
      row.append(f'{sum(scores) / len(scores):.0f} (n={len(scores)})' if scores else '')
    rows.append(row)
  return rows


def write(runs, reference, episode, out_dir, results):
  """Table 1 as markdown and CSV: our rows per task beside the published rows, then the runs not drawn and why.
  Returns the rows."""
  header = ['method', 'modality', 'episodes'] + tasks_lib.names()
  ours, notes = rows(runs, episode)
  table = ours + true_sim_rows(results)
  for method, scores in reference.items():
    table.append([method, *_reference_meta(method)] + [f'{scores[t]:.0f}' if t in scores else ''
                                                      for t in tasks_lib.names()])
  with open(os.path.join(out_dir, 'table1.csv'), 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows(table)
  with open(os.path.join(out_dir, 'table1.md'), 'w') as f:
    f.write(markdown(header, table))
    f.write('\nOur cells: mean over seeds of each seed\'s test return over its last test points at or before '
            f'episode {episode or "(any)"} that hold at least {analysis.FINAL_TRAJECTORIES} test trajectories (ep: '
            'the test episodes used; n: trajectories in all); true-simulator cells: mean over n episodes at H=12, '
            'I=10, J=1000, K=100. The published rows are after 1000 (PlaNet) and 1e5 (A3C, D4PG) episodes.\n')
    for note in notes:
      f.write(f'- {note}\n')
    for line in not_drawn(runs):
      f.write(f'- not drawn: {line}\n')
  return table


def markdown(header, rows):
  return ('| ' + ' | '.join(header) + ' |\n|' + '---|' * len(header) + '\n' +
          ''.join('| ' + ' | '.join(str(x) for x in row) + ' |\n' for row in rows))


def _reference_meta(method):
  meta = {'A3C': ('proprioceptive', '100000'), 'D4PG': ('pixels', '100000'), 'PlaNet': ('pixels', '1000'),
          'CEM + true simulator': ('simulator state', '0')}
  return meta.get(method, ('', ''))
