"""Write a file so that a reader sees the old file or the new one, never a part of either."""

import json
import os
import tempfile
from pathlib import Path


def write_atomically(path, data):
    """Write `data` (str, as UTF-8, or bytes) to `path` through a temporary file beside it.

    The temporary file is removed when the write fails, whatever the failure (a full disk, an
    interruption); the folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o666 & ~_umask())     # as open() would make it: mkstemp's 0600 hides it from a TA
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json_atomically(path, document):
    """Write `document` as indented JSON (a results.json, say), atomically."""
    write_atomically(path, json.dumps(document, indent=2) + "\n")


def _umask():
    """This process's umask, read without changing it (os.umask would, for every thread)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return 0o022
