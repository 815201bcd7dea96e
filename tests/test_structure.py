"""The codebase's shape: one task registry read everywhere, a model added by one module + one gin file, imports
that point one way (no cycles), thin scripts, and no reaching into other modules' private names."""
import ast
import csv
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import ROOT
from conftest import tiny_gin
from planet import config as config_lib
from planet import envs
from planet import rundir
from planet import tasks
from planet import training
from planet import world_model
from planet.experiments import true_sim
from planet.report import analysis
from planet.report import figures
from planet.report import table1

PACKAGE = os.path.join(ROOT, 'planet')
SCRIPTS = os.path.join(ROOT, 'scripts')


def _modules():
  """{module name: path} of every module of the package."""
  found = {}
  for directory, _, files in os.walk(PACKAGE):
    for name in files:
      if name.endswith('.py'):
        path = os.path.join(directory, name)
        module = os.path.relpath(path, ROOT)[:-3].replace(os.sep, '.')
        found[module[:-len('.__init__')] if module.endswith('.__init__') else module] = path
  return found


def _imports(path):
  """Absolute names imported by a file (`from planet import x` gives planet.x), with their line numbers."""
  names = []
  for node in ast.walk(ast.parse(open(path).read())):
    if isinstance(node, ast.Import):
      names += [(alias.name, node.lineno) for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.module:
      names += [(f'{node.module}.{alias.name}', node.lineno) for alias in node.names]
      names.append((node.module, node.lineno))
  return names


def _graph():
  modules = _modules()
  graph = {}
  for module, path in modules.items():
    graph[module] = {name for name, _ in _imports(path) if name in modules and name != module}
  return graph


def test_no_import_cycles_in_the_package():
  graph = _graph()
  state = {}

  def visit(module, stack):
    state[module] = 'open'
    for child in sorted(graph[module]):
      if state.get(child) == 'open':
        cycle = stack[stack.index(child):] + [child] if child in stack else [module, child]
        pytest.fail('import cycle: ' + ' -> '.join(cycle))
      if child not in state:
        visit(child, stack + [child])
    state[module] = 'done'

  for module in sorted(graph):
    if module not in state:
      visit(module, [module])


# The wings: experiment tooling, measurement and reporting, a package each. Everything else is the agent's core.
WINGS = ('planet.experiments', 'planet.measure', 'planet.report')


def _is_wing(module):
  return any(module == wing or module.startswith(wing + '.') for wing in WINGS)


def test_the_core_never_imports_a_wing():
  graph = _graph()
  for module in sorted(graph):
    if not _is_wing(module):
      wings = sorted(name for name in graph[module] if _is_wing(name))
      assert not wings, f'{module} (core) imports {wings}: tools depend on the agent, never the other way round'


# The wings in the order their imports point: each may import those after it (and the core), never one before it.
WING_ORDER = ('planet.report', 'planet.measure', 'planet.experiments')


def test_wings_import_each_other_only_downward():
  graph = _graph()
  for module in sorted(graph):
    rank = [i for i, wing in enumerate(WING_ORDER) if _is_wing_of(module, wing)]
    if rank:
      above = sorted(name for name in graph[module]
                     if any(_is_wing_of(name, wing) for wing in WING_ORDER[:rank[0]]))
      assert not above, f'{module} imports {above}, a wing above it ({" -> ".join(WING_ORDER)})'


def _is_wing_of(module, wing):
  return module == wing or module.startswith(wing + '.')


def test_only_the_run_directory_knows_its_file_names():
  """No module but planet/rundir.py joins one of a run directory's file names onto a path (rundir.RunDir does)."""
  names = '|'.join(re.escape(name) for name in rundir.RunDir.FILES.values())
  literal = re.compile(r"os\.path\.join\([^)]*['\"](" + names + r")['\"]\s*\)")
  found = []
  for folder in ('planet', 'scripts'):
    for base, _, files in os.walk(os.path.join(ROOT, folder)):
      for name in files:
        path = os.path.join(base, name)
        if name.endswith('.py') and path != os.path.join(ROOT, 'planet', 'rundir.py'):
          found += [f'{os.path.relpath(path, ROOT)}: {m.group(0)}' for m in literal.finditer(open(path).read())]
  assert found == []
  assert literal.search("os.path.join(logdir, 'metrics.jsonl')")  # The pattern finds what it forbids.


def test_envs_and_the_env_worker_never_import_tensorflow():
  # TensorFlow and Mesa's EGL in one process crash: the worker's whole import closure must stay TF-free.
  graph, modules = _graph(), _modules()
  closure, todo = set(), ['planet.env_worker']
  while todo:
    module = todo.pop()
    if module not in closure:
      closure.add(module)
      todo += graph[module]
  assert 'planet.envs' in closure and 'planet.tasks' in closure
  for module in closure:
    external = {name.split('.')[0] for name, _ in _imports(modules[module])}
    assert not external & {'tensorflow', 'tensorflow_probability'}, module


MAIN_LINES = 30  # A script's main: parse its flags (PARSER, at module level), one call into the package per mode.


def test_scripts_are_thin():
  scripts = {name[:-3] for name in os.listdir(SCRIPTS) if name.endswith('.py')}
  for name in sorted(scripts):
    path = os.path.join(SCRIPTS, f'{name}.py')
    text = open(path).read()
    assert 'sys.path' not in text, f'{name}.py edits sys.path: the package is installed'
    imported = {module.split('.')[0] for module, _ in _imports(path)}
    assert not imported & scripts, f'{name}.py imports another script: move shared code into planet/'
    functions = [node.name for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)]
    assert functions == ['main'], f'{name}.py defines {functions}: library code belongs in planet/'
    main, = [node for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)]
    lines = main.end_lineno - main.lineno + 1
    assert lines <= MAIN_LINES, f'{name}.py: main has {lines} lines (at most {MAIN_LINES}): move the work into planet/'


FILE_LINES = 320  # A module holds one concern: about 300 lines at most.
FUNCTION_LINES = 50


def test_modules_and_functions_stay_short():
  for root, _, files in os.walk(PACKAGE):
    for name in files:
      if name.endswith('.py'):
        path = os.path.join(root, name)
        text = open(path).read()
        lines = len(text.splitlines())
        assert lines <= FILE_LINES, f'{path} has {lines} lines (at most {FILE_LINES}): split it by concern'
        for node in ast.walk(ast.parse(text)):
          if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= FUNCTION_LINES, f'{path}: {node.name} has {length} lines (at most {FUNCTION_LINES})'


def test_no_private_names_used_across_modules():
  for directory in (PACKAGE, SCRIPTS):
    for root, _, files in os.walk(directory):
      for name in files:
        if name.endswith('.py'):
          text = open(os.path.join(root, name)).read()
          assert 'protected-access' not in text, f'{name} reaches into a private name'
          for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or '').startswith('planet'):
              assert not any(alias.name.startswith('_') for alias in node.names), f'{name}: {node.module}'


@pytest.fixture
def made_up_task(tmp_path):
  """A task that is not the paper's, registered the way planet/tasks.py registers the six, with its gin file (outside
  gin/ here, so the fixture leaves the repository alone)."""
  cartpole = tasks.get('cartpole')
  os.makedirs(tmp_path / 'task')
  gin_file = tmp_path / 'task' / 'balance.gin'
  gin_file.write_text("include 'gin/base.gin'\ntrain.task = 'balance'\nmake_env.action_repeat = 8\n")
  task = tasks.register(tasks.Task('balance', 'cartpole', 'balance', 'Cartpole Balance',
                                   true_reward=cartpole.true_reward, sensors=cartpole.sensors, gin_file=str(gin_file)))
  yield task
  tasks.unregister('balance')


def test_a_registered_task_appears_everywhere(made_up_task, tmp_path):
  assert 'balance' in tasks.names() and tasks.title('balance') == 'Cartpole Balance'
  # The command line accepts it, and an unknown name is still refused with the list of tasks.
  config_lib.parse([], tiny_gin(["train.task = 'balance'"]))
  logdir = config_lib.configure(['gin/base.gin'], ["train.task = 'balance'"])
  assert logdir.endswith(os.path.join('balance', 'planet', 'seed0'))
  with pytest.raises(ValueError, match='balance'):
    tasks.get('balanse')
  # Its environment: rendered pixels in a worker process that learned the task from the parent.
  env = envs.make_env('balance', max_env_steps=16)
  try:
    obs = env.reset(seed=0)
    assert obs['image'].shape == (64, 64, 3) and env.action_repeat == 8
    _, reward, done, _ = env.step(np.zeros(1))
    assert reward > 0 and not done  # Balance starts upright: reward from the first step.
  finally:
    env.close()
  # CEM with the true simulator scores it with its reward.
  sim = true_sim.TrueSimulator('balance', threads=1, max_env_steps=16)
  sim.reset(0)
  assert sim.returns(sim.state(), np.zeros((2, 3, 1))).shape == (2,)
  # Table 1 gets a column (empty without a run or reference numbers), figures a panel, multitask a member.
  results, gin_dir = tmp_path / 'results', tmp_path / 'gin'
  os.makedirs(results / 'balance' / 'planet' / 'seed0')
  (results / 'balance' / 'planet' / 'seed0' / 'metrics.jsonl').write_text(
      '{"episodes": 10, "test_returns": [500.0], "test_return": 500.0}\n')
  # Its gin file, and a run whose recorded configuration is that file's.
  os.makedirs(gin_dir)
  (gin_dir / 'balance.gin').write_text("train.task = 'balance'\n")
  (results / 'balance' / 'planet' / 'seed0' / 'config.gin').write_text("train.task = 'balance'\n")
  runs = analysis.find_runs(str(results), str(gin_dir))
  rows = table1.write(runs, analysis.read_reference(os.path.join(ROOT, 'results', 'reference', 'table1.csv')),
                        None, str(tmp_path), str(results))
  assert rows[0][-1] == '500 (ep 10; 1 seed, n=1)'  # Our row, the new last column.
  header = next(csv.reader(open(tmp_path / 'table1.csv')))
  assert header[-1] == 'balance'
  assert figures.plot_comparison('fig', 'title', [('planet', 'PlaNet')], runs, {}, str(tmp_path)) == [
      (task, 'planet') for task in tasks.names() if task != 'balance']
  assert training.task_list('multitask')[-1] == 'balance'  # One agent for all tasks (Figs. 6-7) includes it.


def test_a_model_is_one_module_and_one_gin_file(tmp_path, monkeypatch):
  """A new state-space model needs its module and a gin file that imports it: no list to extend elsewhere."""
  (tmp_path / 'my_model.py').write_text(textwrap.dedent('''
      import gin
      from planet.models import rssm

      @gin.configurable
      class MeanRSSM(rssm.RSSM):
        """The RSSM that always takes the predicted mean."""

        def __init__(self, *args, **kwargs):
          super().__init__(*args, mean_only=True, **kwargs)
      '''))
  (tmp_path / 'my_model.gin').write_text('import my_model\nWorldModel.dynamics = @MeanRSSM\n')
  monkeypatch.syspath_prepend(str(tmp_path))
  config_lib.parse([str(tmp_path / 'my_model.gin')], tiny_gin())
  model = world_model.WorldModel(1)
  assert type(model.dynamics).__name__ == 'MeanRSSM' and model.dynamics.mean_only


def test_train_script_help_runs_from_any_directory(tmp_path):
  result = subprocess.run([sys.executable, os.path.join(SCRIPTS, 'train.py'), '--help'], cwd=tmp_path,
                          capture_output=True, timeout=120)
  assert result.returncode == 0 and b'--gin_file' in result.stdout
