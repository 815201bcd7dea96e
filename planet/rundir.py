"""Files of a run directory, written safely: atomic writes (temporary name, then rename) and JSON lines."""
import json
import os
import uuid


def write_atomically(path, data):
  """Writes `data` (str or bytes) to `path` via a temporary file in the same directory and a rename, so a reader
  (or a resume after a kill) sees either the old file or the whole new one."""
  directory = os.path.dirname(path) or '.'
  os.makedirs(directory, exist_ok=True)
  tmp = os.path.join(directory, f'.{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp')
  with open(tmp, 'wb' if isinstance(data, bytes) else 'w') as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)
  return path


def read_jsonl(path):
  """The JSON objects of a .jsonl file, one per non-empty line; [] when the file does not exist."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def append_jsonl(path, record):
  """Appends one JSON object as a line (one writer per file: see the run-directory lock)."""
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  with open(path, 'a') as f:
    f.write(json.dumps(record) + '\n')
