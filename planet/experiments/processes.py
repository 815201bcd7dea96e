"""One run as a subprocess (scripts/train.py or scripts/true_sim.py): its command line and environment, starting it
so that it dies with its parent, waiting for its end, stopping it cleanly, and reading why it ended. Used by the Ray
launcher (one subprocess per Ray task) and the runs-per-GPU probe (several at once)."""
import ctypes
import os
import signal
import subprocess
import sys
import time

from planet import cli
from planet import gin_text
from planet import rundir


def command(run, threads=None):
  """The run's command line: scripts/train.py with its gin files and seed, or scripts/true_sim.py for one episode
  written to the run's record; `threads` caps a true-simulator episode's rollout threads."""
  if run.kind == 'train':
    return [sys.executable, os.path.join(gin_text.REPO_ROOT, 'scripts', 'train.py'),
            *[f'--gin_file={path}' for path in run.gin_files], f'--gin_param=train.seed={run.seed}',
            f'--logdir={run.path}', '--no_progress']
  horizon, iterations, candidates, top_k = run.setting
  return [sys.executable, os.path.join(gin_text.REPO_ROOT, 'scripts', 'true_sim.py'), f'--task={run.task}',
          f'--horizon={horizon}', f'--iterations={iterations}', f'--candidates={candidates}', f'--top_k={top_k}',
          f'--std_estimator={run.variant}', f'--episode={run.seed}', f'--record={run.path}', '--no_progress',
          *([f'--threads={threads}'] if threads else [])]


def environment(cpus, gpu_ids):
  """The run's environment: threads = its CPUs, GPU memory growth on (several runs may share a GPU), and the
  renderer's EGL device set to the run's GPU (MuJoCo's EGL numbering does not follow CUDA_VISIBLE_DEVICES)."""
  env = dict(os.environ)
  threads = str(max(1, int(cpus)))
  env.update(OMP_NUM_THREADS=threads, TF_NUM_INTRAOP_THREADS=threads, TF_NUM_INTEROP_THREADS='2',
             TF_FORCE_GPU_ALLOW_GROWTH='true')
  if gpu_ids:
    env['MUJOCO_EGL_DEVICE_ID'] = str(gpu_ids[0])
  return env


STOP_SECONDS = 120  # How long a stopped run may take to save its progress and exit before it is killed.


def _die_with_parent():
  """In the child, before exec: receive SIGTERM when the parent (the Ray worker) dies (Linux prctl)."""
  try:
    ctypes.CDLL('libc.so.6', use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
  except OSError:
    pass


def execute(run, cpus=1, gpu_ids=(), threads=None):
  """Runs one run as a subprocess to its end; returns (exit code, last stderr line)."""
  if run.kind == 'train':
    os.makedirs(run.path, exist_ok=True)
  log = log_path(run)
  with open(log, 'a') as stderr:
    process = start_process(run, stderr, environment(cpus, gpu_ids), threads)
    try:
      code = None
      while code is None:  # Short waits: a cancel's KeyboardInterrupt only lands between Python instructions.
        try:
          code = process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
          pass
    except KeyboardInterrupt:  # The sweep is being stopped (ray.cancel): the run stops cleanly, saving its progress.
      stop_processes([process], STOP_SECONDS)
      code = process.returncode
  return code, last_line(log)


def log_path(run):
  """Where a run's subprocess writes its stderr: <run directory>/sweep.log (true-simulator episodes: their task's
  job folder)."""
  log = rundir.RunDir(run.path if run.kind == 'train' else os.path.dirname(run.path)).sweep_log
  os.makedirs(os.path.dirname(log), exist_ok=True)
  return log


def start_process(run, stderr, env, threads=None):
  """Starts a run's subprocess, its stderr appended to the open file `stderr` after a line with the command."""
  args = command(run, threads)
  stderr.write(f'--- {time.strftime("%Y-%m-%d %H:%M:%S")} {" ".join(args)}\n')
  stderr.flush()
  return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=gin_text.REPO_ROOT,
                          preexec_fn=_die_with_parent)


def stop_processes(processes, seconds):
  """Stops running processes cleanly (SIGTERM: a run ends its episode, saves its progress and exits 130), killing
  any still running `seconds` after."""
  for process in processes:
    if process.poll() is None:
      process.terminate()
  deadline = time.time() + seconds
  for process in processes:
    try:
      process.wait(timeout=max(0.1, deadline - time.time()))
    except subprocess.TimeoutExpired:
      process.kill()
      process.wait()


def last_line(log):
  """A run log's last line, which says why the run ended; gin's 'In call to configurable ...' lines after an
  exception's own line are skipped."""
  with open(log) as f:
    lines = [line.strip() for line in f if line.strip() and not line.strip().startswith('In call to configurable')]
  return lines[-1] if lines else ''


def retriable(code):
  """Only crashes (exit 1, or killed by a signal other than a stop) are worth another try."""
  return code == cli.EXIT_CRASH or (code < 0 and -code not in (signal.SIGINT, signal.SIGTERM))
