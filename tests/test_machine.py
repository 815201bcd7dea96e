"""The machine description (planet.machine): the CPU's model and description from /proc/cpuinfo's text."""
import os

from planet import machine

CPUINFO = ('processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\ncore id\t: 0\n\n'
           'processor\t: 1\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 9B14\ncore id\t: 1\n')


def test_cpu_model_and_description_come_from_cpuinfo(monkeypatch):
  assert machine.cpu_model(CPUINFO) == 'AMD EPYC 9B14'
  assert machine.cpu_model('processor\t: 0\n') == (machine.platform.processor() or machine.platform.machine())
  monkeypatch.setattr(machine, 'cpu_model', lambda cpuinfo=None: 'AMD EPYC 9B14')
  assert machine.cpu_description() == f'CPU AMD EPYC 9B14 x{os.cpu_count()} cores'
  assert machine.cpu_topology(CPUINFO) == '2 cores, 2 threads'


def test_commit_names_this_checkout():
  commit = machine.commit()
  assert len(commit) >= 7 and all(c in '0123456789abcdef' for c in commit)
