#!/usr/bin/env python
"""CEM planning with the true simulator: Table 1's last row and the planner sweep of Figure 12.

  python scripts/true_sim.py --task=cheetah --episodes 1                      # paper settings H12 I10 J1000 K100
  python scripts/true_sim.py --task=cheetah --horizon 8 --candidates 500      # any one setting
  python scripts/true_sim.py --task=cheetah --sweep --episodes 2              # Fig. 12: one knob at a time
  python scripts/true_sim.py --plot                                           # draw Fig. 12 (also plot.py)
  python scripts/true_sim.py --benchmark                                      # physics steps/s vs. env.step

Scores go to results/true_sim/<task>.jsonl, one line per episode; a rerun skips what is already there, so an
interrupted sweep resumes. Uses all cores (MuJoCo's threaded rollout).
"""
import argparse
import json
import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # pylint: disable=wrong-import-position
import tqdm  # pylint: disable=wrong-import-position

from planet import analysis  # pylint: disable=wrong-import-position
from planet import true_sim  # pylint: disable=wrong-import-position

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
def sweep_settings():
  """Fig. 12's grid: each knob varied around the paper's setting (planet.analysis.TRUE_SIM_SWEEP)."""
  settings = []
  for knob, values in analysis.TRUE_SIM_SWEEP.items():
    for value in values:
      setting = true_sim.PAPER._replace(**{knob: value})
      if setting not in settings:
        settings.append(setting)
  return settings


def read_records(path):
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def run(task, settings, episodes, out_dir, threads=None, progress=True, std_estimator='std', warm_start=False):
  """Runs the missing (setting, episode) pairs of one CEM variant; returns that variant's records of the task."""
  os.makedirs(out_dir, exist_ok=True)
  path = os.path.join(out_dir, f'{task}.jsonl')
  done = {(tuple(r['settings']), r['episode'])
          for r in analysis.true_sim_variant(read_records(path), std_estimator, warm_start)}
  sim = true_sim.TrueSimulator(task, threads=threads)
  steps = sim.max_env_steps // sim.action_repeat
  for setting in settings:
    for episode in range(episodes):
      if (tuple(setting), episode) in done:
        continue
      bar = tqdm.tqdm(total=steps, disable=not progress, desc=f'{task} H{setting.horizon} I{setting.iterations} '
                      f'J{setting.candidates} K{setting.top_k} ep{episode}', leave=False)
      tic = time.time()
      score = true_sim.run_episode(sim, setting, seed=episode, progress=bar, std_estimator=std_estimator,
                                   warm_start=warm_start)
      bar.close()
      record = dict(task=task, settings=list(setting), **setting._asdict(), std_estimator=std_estimator,
                    **({'warm_start': True} if warm_start else {}), episode=episode, return_=score,
                    seconds=round(time.time() - tic, 2), threads=len(sim._datas))  # pylint: disable=protected-access
      record['return'] = record.pop('return_')
      with open(path, 'a') as f:
        f.write(json.dumps(record) + '\n')
      logging.info('%s %s episode %d: return %.1f in %.0f s', task, setting, episode, score, record['seconds'])
  return analysis.true_sim_variant(read_records(path), std_estimator, warm_start)


def start_hit_rates(task, seeds, candidates=1000, horizon=12):
  """How blind CEM starts: the share of random action sequences N(0, I) clipped to [-1, 1] with any reward from
  each seed's start state (one generator, seeded 0, drawn through the seeds in order)."""
  sim = true_sim.TrueSimulator(task, threads=1)
  rng = np.random.RandomState(0)
  for seed in range(seeds):
    sim.reset(seed)
    returns = sim.returns(sim.state(), np.clip(rng.standard_normal((candidates, horizon, sim.action_size)), -1, 1))
    print(f'{task} seed {seed}: {100 * np.mean(returns > 0):.1f}% of {candidates} random sequences (H={horizon}) '
          f'score > 0; best {returns.max():.0f}')


def benchmark(task, out_path, candidates=1000, horizon=12):
  """Physics steps per second: Python env.step loop, rollout with 1 thread, rollout with all threads."""
  rows = []
  sim = true_sim.TrueSimulator(task, threads=1)
  sim.reset()
  tic, count = time.time(), 0
  while time.time() - tic < 2:
    sim.env.step(np.zeros(sim.action_size))
    count += sim.physics_steps
  rows.append(('env_step_python_loop', count / (time.time() - tic)))
  actions = np.random.RandomState(0).uniform(-1, 1, (candidates, horizon, sim.action_size))
  for threads in (1, os.cpu_count()):
    sim = true_sim.TrueSimulator(task, threads=threads)
    sim.reset()
    state = sim.state()
    sim.returns(state, actions[:10])
    tic = time.time()
    sim.returns(state, actions)
    seconds = time.time() - tic
    rows.append((f'rollout_{threads}_threads', candidates * (horizon * sim.action_repeat * sim.physics_steps + 1)
                 / seconds))
  import platform  # pylint: disable=import-outside-toplevel
  for name, value in rows:
    row = dict(name=f'true_sim_{task}_{name}', value=round(value), unit='physics steps/s', task=task,
               cpus=os.cpu_count(), machine=platform.machine())
    print(json.dumps(row))
    if out_path:
      with open(out_path, 'a') as f:
        f.write(json.dumps(row) + '\n')


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--task', default='cheetah')
  parser.add_argument('--horizon', type=int, default=true_sim.PAPER.horizon)
  parser.add_argument('--iterations', type=int, default=true_sim.PAPER.iterations)
  parser.add_argument('--candidates', type=int, default=true_sim.PAPER.candidates)
  parser.add_argument('--top_k', type=int, default=true_sim.PAPER.top_k)
  parser.add_argument('--episodes', type=int, default=1)
  parser.add_argument('--std_estimator', default='std', choices=['paper', 'std'],
                      help="CEM refit spread: the authors' code ('std', default) or Algorithm 2 as printed ('paper')")
  parser.add_argument('--warm_start', action='store_true',
                      help='start each step from the previous plan shifted by one (not in the paper; a probe)')
  parser.add_argument('--sweep', action='store_true', help="Fig. 12's grid instead of one setting")
  parser.add_argument('--threads', type=int, default=None, help='rollout threads (default: all cores)')
  parser.add_argument('--out', default=os.path.join(ROOT, 'results', 'true_sim'))
  parser.add_argument('--plot', action='store_true', help='draw Fig. 12 from the records and stop')
  parser.add_argument('--benchmark', action='store_true', help='physics steps/s, then stop')
  parser.add_argument('--start_hits', type=int, default=0,
                      help='for seeds 0..N-1: share of random sequences with any reward from the start, then stop')
  parser.add_argument('--benchmark_out', default=None)
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s')
  if args.start_hits:
    start_hit_rates(args.task, args.start_hits)
    return
  if args.benchmark:
    benchmark(args.task, args.benchmark_out)
    return
  if args.plot:
    import plot  # scripts/plot.py  # pylint: disable=import-outside-toplevel
    results = os.path.dirname(args.out)
    logging.info('wrote %s', plot.fig12(results, os.path.join(results, 'figures'), args.task))
    return
  settings = sweep_settings() if args.sweep else [true_sim.Settings(args.horizon, args.iterations,
                                                                     args.candidates, args.top_k)]
  records = run(args.task, settings, args.episodes, args.out, args.threads, std_estimator=args.std_estimator,
                warm_start=args.warm_start)
  for setting in settings:
    scores = [r['return'] for r in records if r['settings'] == list(setting)]
    if scores:
      logging.info('%s: mean return %.1f over %d episode(s)', setting, np.mean(scores), len(scores))


if __name__ == '__main__':
  main()
