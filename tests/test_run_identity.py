"""Which bindings make an experiment (planet.run_identity), and the refusal to resume a run with another one."""
import pytest

from planet import run_identity
from planet import rundir


def test_bindings_read_multi_line_values_and_skip_comments_and_imports():
  text = ('import planet.models\n# a comment\ntrain.task = "cheetah"\ncem_plan.horizon = 12\n'
          'Learner.jit_compile = True\ntrain.tasks = [\n    "cartpole",\n    "walker"]\n')
  found = run_identity.bindings(text)
  assert found == {'train.task': '"cheetah"', 'cem_plan.horizon': '12', 'Learner.jit_compile': 'True',
                   'train.tasks': '[ "cartpole", "walker"]'}
  # How a run executes is not what it computes: the XLA switch neither names a run nor blocks its resume.
  assert 'Learner.jit_compile' not in run_identity.experiment(text)
  assert run_identity.experiment(text)['cem_plan.horizon'] == '12'


def test_a_resume_with_another_experiment_is_refused_naming_the_binding(tmp_path):
  run_identity.check_same_experiment(str(tmp_path), 'cem_plan.horizon = 12\n')
  run_identity.check_same_experiment(str(tmp_path), 'cem_plan.horizon = 12\nLearner.jit_compile = True\n')
  with pytest.raises(rundir.RunDirError, match=r'holds another experiment \(cem_plan.horizon: 12 -> 6\)'):
    run_identity.check_same_experiment(str(tmp_path), 'cem_plan.horizon = 6\n')


def test_runs_recorded_before_a_binding_existed_resume_with_its_earlier_value(tmp_path):
  # A run recorded before gin/base.gin had cem_plan.discount and cem_plan.resample_belief planned undiscounted, from
  # a belief sample per candidate: it resumes with the overlays that restore that, not with the new defaults.
  old = 'train.task = "cartpole"\ncem_plan.std_estimator = "std"\n'
  run_identity.check_same_experiment(str(tmp_path), old)
  run_identity.check_same_experiment(str(tmp_path), old + 'cem_plan.discount = 1.0\ncem_plan.resample_belief = True\n')
  with pytest.raises(rundir.RunDirError) as error:
    run_identity.check_same_experiment(str(tmp_path), old + 'cem_plan.discount = 0.99\ncem_plan.resample_belief = False\n')
  assert 'cem_plan.discount: 1.0 (unset, as before the binding existed) -> 0.99' in str(error.value)
  assert 'cem_plan.resample_belief: True (unset, as before the binding existed) -> False' in str(error.value)
  # A configuration that binds neither (one without gin/base.gin) is compared as it is.
  run_identity.check_same_experiment(str(tmp_path), old)
  # A run that records the binding keeps its own value.
  run_identity.check_same_experiment(str(tmp_path / 'new'), old + 'cem_plan.discount = 0.99\n')
  with pytest.raises(rundir.RunDirError, match=r'cem_plan.discount: 0.99 -> 1.0'):
    run_identity.check_same_experiment(str(tmp_path / 'new'), old + 'cem_plan.discount = 1.0\n')


def test_a_run_recorded_float32_before_auto_precision_resumes_as_float32_and_is_told_how_elsewhere(tmp_path):
  # A quick run recorded before gin/quick.gin bound the convs' precision to 'auto' computed in float32: it resumes
  # where 'auto' resolves to float32; where it resolves to bfloat16 the refusal names the overlay that keeps float32.
  old = 'train.task = "cartpole"\ntrain.batch_size = 16\n'
  run_identity.check_same_experiment(str(tmp_path), old)
  as_float32 = "Encoder.precision = 'float32'\nDecoder.precision = 'float32'\n"
  run_identity.check_same_experiment(str(tmp_path), old + as_float32)
  with pytest.raises(rundir.RunDirError, match=r"Encoder.precision: 'float32' \(unset, as before the binding existed\) "
                     r"-> 'bfloat16'.*original settings \(gin/float32.gin or gin/mixed_precision.gin, added last"):
    run_identity.check_same_experiment(str(tmp_path), old + as_float32.replace('float32', 'bfloat16'))
  # Another binding differing alone gets no such hint.
  with pytest.raises(rundir.RunDirError, match=r'train.batch_size: 16 -> 50\); resume it with its original settings, or'):
    run_identity.check_same_experiment(str(tmp_path), old.replace('16', '50') + as_float32)
