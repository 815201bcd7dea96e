"""The paper's experiments as data: settings that several modules share (imports neither TensorFlow nor Ray).

CEM with the true simulator (Table 1's last row, Fig. 12): the paper's planner setting and the Fig. 12 grid,
each knob varied one at a time around it (our grid; the paper's figure shows the same four knobs).
"""
import collections

CemSettings = collections.namedtuple('CemSettings', 'horizon iterations candidates top_k')
# App. A: H = 12, I = 10, J = 1000, K = 100.
CEM_PAPER = CemSettings(12, 10, 1000, 100)
CEM_SWEEP = {'horizon': [2, 4, 6, 8, 10, 12, 16], 'iterations': [1, 2, 5, 10, 15],
             'candidates': [100, 300, 1000, 2000], 'top_k': [10, 30, 100, 300]}


def cem_sweep_settings():
  """Fig. 12's grid: every setting with one knob of CEM_SWEEP varied around CEM_PAPER, without repeats."""
  settings = []
  for knob, values in CEM_SWEEP.items():
    for value in values:
      setting = CEM_PAPER._replace(**{knob: value})
      if setting not in settings:
        settings.append(setting)
  return settings


def cem_variant(records, std_estimator='std', warm_start=False):
  """True-simulator records of one CEM variant: the refit's spread estimator ('std': the authors' code, the
  default; 'paper': Algorithm 2 as printed) and the warm-start probe. Older records lack the keys and mean the
  printed refit with a cold start."""
  return [r for r in records
          if r.get('std_estimator', 'paper') == std_estimator and r.get('warm_start', False) == warm_start]
