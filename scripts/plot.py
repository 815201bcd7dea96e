#!/usr/bin/env python
"""Regenerate the paper's Table 1 and Figures 4-9 and 12 from the runs under results/.

  python scripts/plot.py [--results results] [--out results/figures] [--episode 1000]
  python scripts/plot.py --collect logs/cartpole/planet/seed0     # copy a finished run's small files first

Each figure compares variants (results/<task>/<variant>/seed<N>/) per task panel: the median test return over
seeds and trajectories with the 5-95 percentile band, and the model-free D4PG / A3C final scores as lines.
Missing runs are listed as missing, never drawn as zero; a run is drawn under its name only when its recorded
config.gin is what that name means. Figure 12 (the true-simulator CEM sweep) and the true-simulator rows of Table 1
come from results/true_sim/<task>.jsonl (scripts/true_sim.py). With the repository's results/, the tables of
README.md, docs/results.md and docs/performance.md are rewritten too.
"""
import argparse
import logging
import os

from planet import cli
from planet import gin_text
from planet import rundir
from planet.report import analysis
from planet.report import docs
from planet.report import figures

PARSER = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
RESULTS = os.path.join(gin_text.REPO_ROOT, 'results')
PARSER.add_argument('--results', default=RESULTS)
PARSER.add_argument('--out', default=None, help='default: <results>/figures')
PARSER.add_argument('--reference', default=os.path.join(RESULTS, 'reference', 'table1.csv'))
PARSER.add_argument('--episode', type=int, default=None, help='score Table 1 at this episode (default: last)')
PARSER.add_argument('--collect', default=None, help='first copy this run directory into results/')
PARSER.add_argument('--config', default=None,
                    help="with --collect: the run's name under results/<task>/ (default: its run directory's)")


def main(argv=None):
  args = PARSER.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(message)s')
  if args.collect:
    try:
      target = rundir.collect_run(args.collect, args.results, config=args.config)
    except FileNotFoundError as e:
      cli.fail(e)
    except OSError as e:
      cli.fail_on_storage(e)
    logging.info('copied %s -> %s', args.collect, target)
  if not analysis.find_runs(args.results) and not os.path.isdir(os.path.join(args.results, 'true_sim')):
    cli.fail(f'no runs in {args.results}: collect a finished run first (python scripts/plot.py --collect '
             '<run directory>) or point --results at a results folder')
  if not os.path.exists(args.reference):
    cli.fail(f'no reference table {args.reference}: give --reference results/reference/table1.csv')
  figures.regenerate(args.results, args.out or os.path.join(args.results, 'figures'), args.reference, args.episode)
  if os.path.realpath(args.results) == os.path.realpath(RESULTS) and args.episode is None:
    for path in docs.regenerate(args.results, args.reference):  # The tables of README.md and docs/ from results/.
      logging.info('updated %s', os.path.relpath(path, gin_text.REPO_ROOT))


if __name__ == '__main__':
  main()
