"""One run as scripts/train.py starts it (planet/runner.py): the start-up lines about the machine."""
import logging

import gin
import pytest

from planet import config as config_lib
from planet import machine
from planet import networks
from planet import run_identity
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


def test_auto_precision_is_bfloat16_only_on_a_cpu_with_bfloat16_units_and_the_run_records_what_it_resolved(tmp_path):
  auto = tmp_path / 'auto.gin'
  auto.write_text("Encoder.precision = 'auto'\nDecoder.precision = 'auto'\n")
  for units, gpus, expected in [('AMX', [], 'bfloat16'), ('AVX512_BF16', [], 'bfloat16'), ('', [], 'float32'),
                                ('AMX', ['GPU:0'], 'float32')]:
    config_lib.parse(['gin/cartpole.gin', 'gin/debug.gin', str(auto)], [])
    line = runner.bind_precision(units, gpus)
    assert line.startswith(f"precision: Encoder.precision = '{expected}', Decoder.precision = '{expected}' ('auto'")
    assert ('AMX' in line) == (units == 'AMX' and not gpus) and ('GPU' in line) == bool(gpus)
    # config.gin and experiment.json hold the resolved value, so a resume elsewhere cannot switch it silently.
    recorded = run_identity.experiment(gin.config_str())
    assert recorded['Encoder.precision'] == recorded['Decoder.precision'] == f"'{expected}'"
  # gin/float32.gin after it: nothing to resolve, nothing to say; an explicit bfloat16 is said as bound.
  config_lib.parse(['gin/cartpole.gin', 'gin/debug.gin', str(auto), 'gin/float32.gin'], [])
  assert runner.bind_precision('AMX', []) is None
  config_lib.parse(['gin/cartpole.gin', 'gin/debug.gin', 'gin/mixed_precision.gin'], [])
  assert "'bfloat16' (as bound" in runner.bind_precision('', [])


def test_an_unknown_precision_is_refused_in_one_line_naming_the_choices():
  with pytest.raises(ValueError, match="unknown precision 'bf16': choose one of float32, bfloat16, auto"):
    networks.resolve_precision('bf16', 'AMX', [])
