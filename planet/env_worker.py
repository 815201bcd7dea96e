"""Environment worker process: runs one dm_control task, never imports TensorFlow.

Started by `planet.envs.DMControlEnv` as `python -m planet.env_worker`; runs `planet.envs.suite_env` (the task with
its time limit and action repeat). TensorFlow and the Mesa EGL renderer
in one process crash with SIGSEGV (their bundled LLVMs clash), so rendering lives here. Protocol: length-prefixed
pickles on the original stdout/stdin; the worker's own stdout is redirected to stderr so that library prints
cannot corrupt the stream.
"""
import os
import pickle
import signal
import struct
import sys
import traceback

from planet import envs  # No TensorFlow behind this import (dm_control is imported when a task is made).


def _read(stream):
  header = stream.read(8)
  if len(header) < 8:
    return None
  (size,) = struct.unpack('<Q', header)
  return pickle.loads(stream.read(size))


def _write(stream, message):
  data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
  stream.write(struct.pack('<Q', len(data)) + data)
  stream.flush()


def main():
  # Ctrl-C reaches the whole process group: the trainer stops cleanly and closes this worker; no traceback here.
  signal.signal(signal.SIGINT, signal.SIG_IGN)
  out = os.fdopen(os.dup(1), 'wb')
  os.dup2(2, 1)  # Anything printed by libraries goes to stderr, never into the protocol stream.
  inp = sys.stdin.buffer
  task = None
  while True:
    message = _read(inp)
    if message is None or message[0] == 'close':
      return
    command, kwargs = message
    try:
      if command == 'init':
        task = envs.suite_env(**kwargs)
        result = {'action_size': task.action_size, 'action_low': task.action_low, 'action_high': task.action_high}
      elif command == 'reset':
        result = task.reset(**kwargs)
      elif command == 'step':
        result = task.step(**kwargs)
      elif command == 'crash':  # For tests: die like a segfaulting renderer would.
        os._exit(139)
      else:
        raise ValueError(f'unknown command {command!r}')
      _write(out, ('ok', result))
    except Exception as e:  # pylint: disable=broad-except
      _write(out, ('error', (f'{type(e).__name__}: {e}', traceback.format_exc())))


if __name__ == '__main__':
  main()
