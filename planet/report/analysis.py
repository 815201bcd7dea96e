"""Reading finished runs from results/ and the statistics of the paper's figures (no TensorFlow here).

Layout: results/<task>/<config>/seed<N>/metrics.jsonl (+ config.gin, run.json), where <config> is the name
scripts/train.py gave the run directory (its overlays and bindings, `planet` for none). Test points pool the test
trajectories of every seed at the same episode count, as the paper's curves do ("median and percentiles 5 to 95
over 5 seeds and 10 trajectories").

A run is drawn under its name only when its recorded configuration is what that name means today (`check_settings`):
a run without config.gin has unknown settings, and a run whose bindings differ from its overlays' is listed as not
drawn, with the bindings that differ.
"""
import ast
import collections
import csv
import json
import os
import re

import numpy as np

from planet import config as config_lib
from planet import gin_text
from planet import run_identity
from planet import rundir
from planet import tasks as tasks_lib
from planet.experiments import matrix

# One finished run's records as read from results/ (planet.report.evaluation.LoadedRun is a run reloaded with its
# model).
# `variant` is the name the figures group by (`config`, or `multitask` for a one-agent-all-tasks run), `settings`
# the result of check_settings: (state, reason) with state 'checked', 'unknown' or 'differs'; `info` is run.json.
RunRecords = collections.namedtuple('RunRecords', 'task variant seed path records config settings info',
                                    defaults=('', ('checked', ''), {}))


def find_runs(root, gin_dir=None):
  """Every results/<task>/<config>/seed<N>/metrics.jsonl under `root`, each with its settings checked against the
  gin files of `gin_dir` (default: the repository's gin/)."""
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
        if match and os.path.exists(rundir.RunDir(path).metrics):
          records = rundir.last_per_episode(rundir.read_jsonl(rundir.RunDir(path).metrics))
          settings = check_settings(path, 'multitask' if task == 'multitask' else task, variant, gin_dir)
          info = read_run_record(path)
          if task == 'multitask':
            runs.extend(_split_multitask(variant, int(match.group(1)), path, records, settings, info))
          else:
            runs.append(RunRecords(task, variant, int(match.group(1)), path, records, variant, settings, info))
  return runs


def _split_multitask(variant, seed, path, records, settings, info):
  """A one-agent-all-tasks run becomes one run per task, named `multitask` (or `multitask-<variant>`)."""
  name = 'multitask' if variant == 'planet' else f'multitask-{variant}'
  tasks = sorted({record['task'] for record in records if 'task' in record})
  return [RunRecords(task, name, seed, path, [r for r in records if r.get('task') == task], variant, settings, info)
          for task in tasks]


def read_run_record(path):
  """A collected run's run.json ({} where there is none)."""
  try:
    with open(rundir.RunDir(path).run_record) as f:
      return json.load(f)
  except (OSError, ValueError):
    return {}


def config_files(task, config, gin_dir=None):
  """The gin files a run directory's <config> name stands for (config.run_path's naming read backwards) and its
  --gin_param bindings: ([task file, overlays...], {key: value text}). ValueError for a part with no gin file."""
  gin_dir = gin_dir or os.path.join(gin_text.REPO_ROOT, 'gin')
  overlays, *params = config.split('+')
  files = [os.path.join(gin_dir, f'{task}.gin')]
  for name in ([] if overlays == 'planet' else overlays.split('-')):
    found = [path for path in (os.path.join(gin_dir, f'{name}.gin'), os.path.join(gin_dir, 'ablations', f'{name}.gin'))
             if os.path.exists(path)]
    if not found:
      raise ValueError(f'no gin file named {name}.gin in gin/ or gin/ablations/')
    files.append(found[0])
  return files, dict(param.split('=', 1) for param in params if '=' in param)


def _normalized(value):
  """A binding's value text compared by meaning where Python can read it (1e-3 == 0.001), quotes aside otherwise."""
  try:
    return repr(ast.literal_eval(value))
  except (ValueError, SyntaxError):
    return config_lib.unquoted(value)


def check_settings(path, task, config, gin_dir=None):
  """Whether the run in `path` ran what its name <config> means with today's gin files: ('checked', ''),
  ('unknown', reason) without a recorded configuration, or ('differs', reason naming the bindings that differ).
  Bindings that only change how a run executes or how long (run_identity.EXECUTION_ONLY) are left aside."""
  config_path = rundir.RunDir(path).config
  if not os.path.exists(config_path):
    return 'unknown', 'no config.gin: settings unknown'
  try:
    files, params = config_files(task, config, gin_dir)
    expected = run_identity.experiment_of(gin_text.files_bindings(files))
  except (ValueError, config_lib.ConfigError) as e:
    return 'differs', f'its name {config!r} is not a configuration: {e}'
  with open(config_path) as f:
    recorded = run_identity.experiment(f.read())
  # A run recorded before a binding existed ran with the value it then had (as a resume reads it).
  recorded = {**run_identity.implicit_values(recorded, expected), **recorded}
  for key, value in params.items():
    expected[key] = value
  keys = sorted((set(expected) | set(recorded)) - {'train.seed'})  # The seed is the path's seed<N>.
  differing = [key for key in keys
               if _normalized(expected.get(key, '(unset)')) != _normalized(recorded.get(key, '(unset)'))
               and not config_lib.resolved_from(key, expected.get(key, ''), recorded.get(key, ''))]
  if not differing:
    return 'checked', ''
  shown = '; '.join(f'{key} = {recorded.get(key, "(unset)")} where {config} has {expected.get(key, "(unset)")}'
                    for key in differing[:3])
  return 'differs', shown + (f' and {len(differing) - 3} more' if len(differing) > 3 else '')


# Table 1's cells: at least this many test trajectories per seed (the paper: 10 at the final point of 5 seeds).
FINAL_TRAJECTORIES = 5


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


def final_score(runs, episode=None, min_trajectories=FINAL_TRAJECTORIES):
  """Each seed's mean test return over its last test points (at or before `episode`) that together hold at least
  `min_trajectories` trajectories, averaged over seeds: a run's final point of 10 trajectories alone, or the last
  five points of one trajectory each, rather than one noisy episode.

  Returns (mean, number of seeds, number of trajectories, (first, last) test episode used per seed) or None.
  """
  seed_means, trajectories, used = [], 0, []
  for run in runs:
    points = sorted((e, returns) for e, returns in test_points(run.records).items() if episode is None or e <= episode)
    window = []
    while points and sum(len(returns) for _, returns in window) < min_trajectories:
      window.insert(0, points.pop())
    if not window:
      continue
    returns = [value for _, point in window for value in point]
    seed_means.append(sum(returns) / len(returns))
    trajectories += len(returns)
    used.append((window[0][0], window[-1][0]))
  if not seed_means:
    return None
  return sum(seed_means) / len(seed_means), len(seed_means), trajectories, used


def read_reference(path):
  """{method: {task: score}} from results/reference/table1.csv."""
  with open(path) as f:
    return {row['method']: {task: float(row[task]) for task in tasks_lib.names() if row.get(task)}
            for row in csv.DictReader(f)}


def true_sim_records(root, task, std_estimator='std', warm_start=False):
  """The episodes of results/true_sim/<task>.jsonl (scripts/true_sim.py) of one CEM variant (default: the
  authors' refit, as the learned planner)."""
  path = os.path.join(root, 'true_sim', f'{task}.jsonl')
  return matrix.cem_variant(rundir.read_jsonl(path), std_estimator, warm_start)


def true_sim_sweep(records, knob):
  """Fig. 12 panel: [(value, mean return, std, episodes)] with `knob` varied and the rest at the paper setting."""
  points = []
  for value in matrix.CEM_SWEEP[knob]:
    setting = list(matrix.CEM_PAPER._replace(**{knob: value}))
    scores = [r['return'] for r in records if r['settings'] == setting]
    if scores:
      points.append((value, float(np.mean(scores)), float(np.std(scores)), len(scores)))
  return points


def run_summary(run, seed_episodes=5, last_tests=5):
  """One run's learning in numbers: episodes, the mean return of its random seed episodes, the mean of its last
  `last_tests` test points (each point's trajectories averaged first), the best test point and where it was."""
  records = [r for r in run.records if 'episodes' in r]
  seeds = [r['train_return'] for r in records[:seed_episodes] if 'train_return' in r]
  points = sorted(test_points(records).items())
  means = [(episode, float(np.mean(returns))) for episode, returns in points]
  last = means[-last_tests:]
  best = max(means, key=lambda point: point[1]) if means else (None, None)
  return dict(episodes=records[-1]['episodes'] if records else 0,
              seed_mean=float(np.mean(seeds)) if seeds else None,
              last_tests_mean=float(np.mean([m for _, m in last])) if last else None,
              last_tests=[episode for episode, _ in last], best=best[1], best_episode=best[0])


def machines(runs):
  """The machines the runs ran on, as one line (from each run's run.json)."""
  return ', '.join(sorted({r.info.get('machine') or 'machine not recorded' for r in runs}))
