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


def test_describe_names_the_first_gpu_else_the_cpu(monkeypatch):
  # Records name the machine: the first GPU as the training line prints it, else the CPU model and core count.
  monkeypatch.setattr(machine, 'gpu_names', lambda tf: ['NVIDIA H100 80GB HBM3', '/physical_device:GPU:1'])
  assert machine.describe(None) == 'NVIDIA H100 80GB HBM3'
  monkeypatch.setattr(machine, 'gpu_names', lambda tf: [])
  name = machine.describe(None)
  assert name.startswith('CPU ') and name.endswith(f' x{os.cpu_count()} cores') and len(name) > len('CPU  x1 cores')
