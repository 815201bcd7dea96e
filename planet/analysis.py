"""Reading finished runs from results/ and the statistics of the paper's figures (no TensorFlow here).

Layout: results/<task>/<variant>/seed<N>/metrics.jsonl (+ operative_config.gin). Test points pool the test
trajectories of every seed at the same episode count, as the paper's curves do ("median and percentiles 5 to 95
over 5 seeds and 10 trajectories").
"""
import collections
import csv
import os
import re

import numpy as np

from planet import rundir
from planet import sweep
from planet import tasks as tasks_lib


# One finished run's records as read from results/ (planet.evaluation.LoadedRun is a run reloaded with its model).
RunRecords = collections.namedtuple('RunRecords', 'task variant seed path records')


def find_runs(root):
  """Every results/<task>/<variant>/seed<N>/metrics.jsonl under `root`."""
  runs = []
  if not os.path.isdir(root):
    return runs
  for task in sorted(os.listdir(root)):
    task_dir = os.path.join(root, task)
    if task in ('reference', 'figures', 'benchmarks', 'true_sim') or not os.path.isdir(task_dir):
      continue
    for variant in sorted(os.listdir(task_dir)):
      for seed_dir in sorted(os.listdir(os.path.join(task_dir, variant))):
        match = re.match(r'^seed(\d+)$', seed_dir)
        path = os.path.join(task_dir, variant, seed_dir)
        if match and os.path.exists(os.path.join(path, 'metrics.jsonl')):
          records = rundir.last_per_episode(rundir.read_jsonl(os.path.join(path, 'metrics.jsonl')))
          if task == 'multitask':
            runs.extend(_split_multitask(variant, int(match.group(1)), path, records))
          else:
            runs.append(RunRecords(task, variant, int(match.group(1)), path, records))
  return runs


def _split_multitask(variant, seed, path, records):
  """A one-agent-all-tasks run becomes one run per task, named `multitask` (or `multitask-<variant>`)."""
  name = 'multitask' if variant == 'planet' else f'multitask-{variant}'
  tasks = sorted({record['task'] for record in records if 'task' in record})
  return [RunRecords(task, name, seed, path, [r for r in records if r.get('task') == task]) for task in tasks]


def test_points(records):
  """{episodes: [test returns]} of one run."""
  points = {}
  for record in records:
    returns = record.get('test_returns') or ([record['test_return']] if record.get('test_return') is not None
                                             else [])
    if returns:
      points[record['episodes']] = list(returns)
  return points


def pooled_curve(runs, low=5, high=95):
  """Median and percentile band over all seeds' test trajectories at each episode count.

  Returns (episodes, median, low, high, counts) as lists; an episode count enters when any seed has it.
  """
  pooled = collections.defaultdict(list)
  for run in runs:
    for episodes, returns in test_points(run.records).items():
      pooled[episodes].extend(returns)
  episodes = sorted(pooled)
  values = [np.asarray(pooled[e], float) for e in episodes]
  return (episodes, [float(np.median(v)) for v in values], [float(np.percentile(v, low)) for v in values],
          [float(np.percentile(v, high)) for v in values], [len(v) for v in values])


def final_score(runs, episode=None):
  """Mean test return over seeds x trajectories at `episode` (default: each run's last test point).

  Returns (mean, number of seeds, number of trajectories, episodes used per seed) or None.
  """
  returns, used = [], []
  for run in runs:
    points = test_points(run.records)
    candidates = [e for e in points if episode is None or e <= episode]
    if not candidates:
      continue
    last = max(candidates)
    returns.extend(points[last])
    used.append(last)
  if not returns:
    return None
  return sum(returns) / len(returns), len(used), len(returns), used


def read_reference(path):
  """{method: {task: score}} from results/reference/table1.csv."""
  with open(path) as f:
    return {row['method']: {task: float(row[task]) for task in tasks_lib.names() if row.get(task)}
            for row in csv.DictReader(f)}


def true_sim_records(root, task, std_estimator='std', warm_start=False):
  """The episodes of results/true_sim/<task>.jsonl (scripts/true_sim.py) of one CEM variant (default: the
  authors' refit, as the learned planner)."""
  path = os.path.join(root, 'true_sim', f'{task}.jsonl')
  return sweep.cem_variant(rundir.read_jsonl(path), std_estimator, warm_start)


def true_sim_sweep(records, knob):
  """Fig. 12 panel: [(value, mean return, std, episodes)] with `knob` varied and the rest at the paper setting."""
  points = []
  for value in sweep.CEM_SWEEP[knob]:
    setting = list(sweep.CEM_PAPER._replace(**{knob: value}))
    scores = [r['return'] for r in records if r['settings'] == setting]
    if scores:
      points.append((value, float(np.mean(scores)), float(np.std(scores)), len(scores)))
  return points
