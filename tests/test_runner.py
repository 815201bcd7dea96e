"""One run as scripts/train.py starts it (planet/runner.py): the start-up lines about the machine."""
import logging

from planet import config as config_lib
from planet import machine
from planet import runner

NO_GPU = type('TF', (), {'config': type('Config', (), {'list_physical_devices': staticmethod(lambda kind: [])})})


def _startup_lines(caplog, bindings):
  config_lib.parse(['gin/cartpole.gin', 'gin/debug.gin'], bindings)
  caplog.clear()
  with caplog.at_level(logging.INFO):
    described = runner.log_machine(NO_GPU, lambda: 60.0)
  return described, [record.getMessage() for record in caplog.records]


def test_a_cpu_run_hears_of_quick_gin_and_of_bfloat16_where_the_cpu_has_it(caplog, monkeypatch):
  monkeypatch.setattr(machine, 'bfloat16_units', lambda cpuinfo=None: 'AMX')
  described, lines = _startup_lines(caplog, [])
  assert described == machine.cpu_description()
  assert any('about 60 minutes' in line and 'gin/quick.gin' in line for line in lines)
  assert any('bfloat16 in hardware (AMX)' in line and 'gin/mixed_precision.gin' in line for line in lines)
  # Already on, or a CPU without the units: nothing to suggest.
  _, lines = _startup_lines(caplog, ["Encoder.precision = 'bfloat16'", "Decoder.precision = 'bfloat16'"])
  assert not any('bfloat16' in line for line in lines)
  monkeypatch.setattr(machine, 'bfloat16_units', lambda cpuinfo=None: None)
  _, lines = _startup_lines(caplog, [])
  assert not any('bfloat16' in line for line in lines)
