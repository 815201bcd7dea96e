"""Runs per GPU (`scripts/sweep.py ... --measure_sharing 1,2,4`): one configuration run 1, 2, 4, ... at a time on
one device, each level timed by its runs' episodes, so that --gpus is chosen from a measurement on the user's own
GPU. Runs that share a GPU fill the gaps one run leaves (small kernels, waits on its environment); how much slower
each then runs decides whether sharing saves GPU-hours."""
import dataclasses
import logging
import os
import shutil
import tempfile
import time

import numpy as np
from tqdm import tqdm

from planet import cli
from planet import logger
from planet import machine
from planet import rundir
from planet.experiments import processes

SHARING_EPISODES = 10  # By default a level ends once each of its runs has this many timed episodes (or at its limit).
SHARING_STOP_SECONDS = 60  # After the measurement, how long a run may take to stop cleanly before it is killed.


def sharing_summary(levels, episodes=1000):
  """{runs at once: [logger.episode_times of each run, None where it timed no episode]} -> one row per level,
  fewest runs first: the median episode of its runs, the episodes per hour of all of them together, that against
  one run alone (`vs_one_run`: 1.6 means sharing did 1.6 times the work of one run per GPU), and the hours of an
  `episodes`-episode run at that level and its GPU-hours (hours / runs, the runs sharing one GPU)."""
  rows, alone = [], None
  for count in sorted(levels):
    timed = [times for times in levels[count] if times]
    if len(timed) < len(levels[count]) or not timed:
      missing = len(levels[count]) - len(timed)
      rows.append(dict(runs=count, error=f'{missing} of {len(levels[count])} runs timed no episode within the time '
                                         'limit: raise --seconds'))
      continue
    walls = [times['wall'] for times in timed]
    row = dict(runs=count, episode_s=round(float(np.median(walls)), 3),
               episodes_per_hour=round(sum(3600 / wall for wall in walls), 1),
               timed_episodes=sum(times['episodes'] for times in timed))
    for part in ('update', 'collect', 'act', 'env'):
      if all(part in times for times in timed):
        row[f'{part}_s'] = round(float(np.median([times[part] for times in timed])), 3)
    hours = row['episode_s'] * episodes / 3600
    row.update(hours_per_run=round(hours, 2), device_hours_per_run=round(hours / count, 2))
    if count == 1:
      alone = row['episodes_per_hour']
    if alone:
      row['vs_one_run'] = round(row['episodes_per_hour'] / alone, 3)
    rows.append(row)
  return rows


def sharing_table(record):
  """The --measure_sharing result as text: one line per level, then what it means for --gpus."""
  hours = 'CPU-hours per run' if record['device'].startswith('CPU') else 'GPU-hours per run'
  lines = [f"{record['configuration']} on {record['device']}, {record['cpus_per_run']} CPU thread(s) per run:",
           f"{'runs':>4}  {'episode':>9}  {'episodes/hour':>13}  {'vs one run':>10}  {hours:>17}  GPU memory per run"]
  for row in record['levels']:
    if 'error' in row:
      lines.append(f"{row['runs']:>4}  {row['error']}")
      continue
    ratio = f"{row['vs_one_run']:.2f}x" if 'vs_one_run' in row else '-'
    memory = '-'
    if 'gpu_peak_mib_per_run' in row:
      memory = f"{row['gpu_peak_mib_per_run'] / 1024:.1f} GiB (TensorFlow's peak)"
    lines.append(f"{row['runs']:>4}  {row['episode_s']:>8.2f}s  {row['episodes_per_hour']:>13.0f}  {ratio:>10}  "
                 f"{row['device_hours_per_run']:>17.2f}  {memory}")
  best = max((row for row in record['levels'] if 'vs_one_run' in row), key=lambda row: row['vs_one_run'],
             default=None)
  if best:
    where = f'on this machine: {best["runs"]} run(s) at once'
    if not record['device'].startswith('CPU'):
      where = f'per GPU: {best["runs"]} run(s) at once (--gpus {1 / best["runs"]:g})'
    lines.append(f"most work {where}, {best['vs_one_run']:.2f}x the episodes per hour of one run; each run then "
                 f"takes {best['hours_per_run']:.1f} h for {record['episodes']} episodes")
  return '\n'.join(lines)


def _device_name(log):
  """The GPU a run's log names (scripts/train.py writes 'GPU: <names>; XLA ...'), else this machine's CPU."""
  try:
    with open(log) as f:
      found = [line.split('GPU: ', 1)[1].split(';')[0].strip() for line in f if 'GPU: ' in line]
    if found:
      return found[0]
  except OSError:
    pass
  return machine.cpu_description()


def _timed(rows):
  """logger.episode_times of a run's metrics lines so far, or None before its first timed episode."""
  try:
    return logger.episode_times(rows)
  except ValueError:
    return None


def _metrics(run):
  return rundir.read_jsonl(rundir.RunDir(run.path).metrics)


def _sharing_level(run, count, seconds, env, workdir, progress, episodes):
  """Runs `count` copies of `run` (seeds 0..count-1) at once until each has `episodes` timed episodes or
  `seconds` have passed; returns their episode_times (None where a run timed none) and their GPU memory peaks."""
  runs = [dataclasses.replace(run, seed=seed, path=os.path.join(workdir, f'{count}_at_once', f'seed{seed}'))
          for seed in range(count)]
  started, logs = [], []
  bar = tqdm(total=count * episodes, desc=f'{count} run(s) at once', unit='episode', disable=not progress)
  try:
    for each in runs:
      os.makedirs(each.path, exist_ok=True)
      logs.append(processes.log_path(each))
      with open(logs[-1], 'a') as stderr:
        started.append(processes.start_process(each, stderr, env))
    deadline = time.time() + seconds
    while time.time() < deadline:
      for each, process, log in zip(runs, started, logs):
        code = process.poll()
        if code is not None and code != cli.EXIT_OK:
          raise RuntimeError(f'{each.name} exited with code {code}: {processes.last_line(log)} '
                             f'(its directory: {each.path})')
      timed = [_timed(_metrics(each)) for each in runs]
      bar.n = sum(min(times['episodes'], episodes) if times else 0 for times in timed)
      bar.refresh()
      if all(times and times['episodes'] >= episodes for times in timed):
        break
      if all(process.poll() is not None for process in started):
        break
      time.sleep(2.0)
  finally:
    bar.close()
    processes.stop_processes(started, SHARING_STOP_SECONDS)
  rows = [_metrics(each) for each in runs]
  peaks = [max((row.get('gpu_peak_mib') or 0 for row in lines), default=0) for lines in rows]
  return [_timed(lines) for lines in rows], peaks, logs


def sharing_selection(selected, counts):
  """(the run whose configuration --measure_sharing times: the first selected training run, [run counts]) from the
  selected runs and the counts' text ('1,2,4'); ValueError for bad input."""
  train = [run for run in selected if run.kind == 'train']
  if not train:
    raise ValueError('--measure_sharing times training runs, and this selection has none: use e.g. table1')
  try:
    levels = [int(count) for count in counts.split(',')]
  except ValueError:
    raise ValueError(f'--measure_sharing {counts}: give run counts separated by commas, e.g. 1,2,4') from None
  others = len({run.gin_files for run in train}) - 1
  logging.info('timing %s at %s run(s) at once%s', train[0].name, counts,
               f' ({others} other configuration(s) selected: --tasks and --variants pick one)' if others else '')
  return train[0], levels


def measure_sharing(run, levels, seconds, cpus=1, gpu=None, progress=True, timed_episodes=SHARING_EPISODES,
                    episodes=1000):
  """Runs the configuration of training run `run` 1, 2, ... at a time (`levels`, ascending, starting with 1: one run
  alone is the baseline, and it also fills a persistent XLA cache that the later levels load their compiled
  functions from), in run directories under a temporary folder that is removed afterwards. `cpus`: the threads of
  each run (the sweep's --cpus); `gpu`: the GPU they share (all of this machine's by default, i.e. TensorFlow's
  first). A level ends once each of its runs has `timed_episodes` timed episodes, or after `seconds`; `progress`
  shows a bar per level (scripts/sweep.py: when stderr is a terminal, so that a log file is not flooded). Returns the
  record (`sharing_summary`'s rows under 'levels', for runs of `episodes` episodes). A run that fails raises
  RuntimeError naming it; its directory is kept."""
  if not levels or levels[0] != 1 or list(levels) != sorted(set(levels)) or min(levels) < 1:
    raise ValueError(f'--measure_sharing {",".join(map(str, levels))}: give run counts in ascending order starting '
                     'with 1 (one run alone is the baseline and fills the compile cache), e.g. 1,2,4')
  if seconds <= 0 or timed_episodes < 1:
    raise ValueError(f'--seconds {seconds:g}, --timed_episodes {timed_episodes}: a level needs a positive time '
                     'limit and at least one timed episode per run')
  workdir = tempfile.mkdtemp(prefix='planet-sharing-')
  env = processes.environment(cpus, [gpu] if gpu is not None else [])
  if gpu is not None:
    env['CUDA_VISIBLE_DEVICES'] = str(gpu)
  if 'persistent_cache_directory' not in env.get('TF_XLA_FLAGS', ''):
    cache = f"--tf_xla_persistent_cache_directory={os.path.join(workdir, 'xla_cache')}"
    env['TF_XLA_FLAGS'] = f"{env.get('TF_XLA_FLAGS', '')} {cache}".strip()
  # The runs after the single one only read the cache: none then reads an entry that another is writing (which fails
  # the reader's compile; docs/gpu.md), and what the single run did not compile each compiles alone.
  shared_env = dict(env)
  if 'persistent_cache_read_only' not in env['TF_XLA_FLAGS']:
    shared_env['TF_XLA_FLAGS'] += ' --tf_xla_persistent_cache_read_only=true'
  measured, peaks, device = {}, {}, None
  failed = False
  try:
    for count in levels:
      measured[count], peaks[count], logs = _sharing_level(run, count, seconds, env if count == 1 else shared_env,
                                                           workdir, progress, timed_episodes)
      device = device or _device_name(logs[0])
  except RuntimeError:
    failed = True
    raise
  finally:
    if not failed:
      shutil.rmtree(workdir, ignore_errors=True)
  rows = sharing_summary(measured, episodes)
  for row in rows:
    if any(peaks[row['runs']]):
      row['gpu_peak_mib_per_run'] = max(peaks[row['runs']])
  return dict(name='runs_per_gpu', configuration=run.name, gin_files=list(run.gin_files), device=device,
              cpus_per_run=max(1, int(cpus)), max_seconds_per_level=seconds, timed_episodes=timed_episodes,
              episodes=episodes, levels=rows,
              commit=machine.commit(), time=time.strftime('%Y-%m-%d %H:%M:%S'))
