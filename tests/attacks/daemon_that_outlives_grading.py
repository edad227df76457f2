"""Leaves processes behind that escape its process group and session: a double-forked daemon in a
session of its own, and a child that outlives its parent, each under a recognisable name."""
import ctypes as _ctypes
import os as _os
import time as _time


def _daemon(new_session):
    if _os.fork() != 0:
        return
    if new_session:
        _os.setsid()
    if _os.fork() != 0:
        _os._exit(0)
    _ctypes.CDLL(None).prctl(15, KIT["tag"].encode(), 0, 0, 0)   # PR_SET_NAME
    _time.sleep(600)
    _os._exit(0)


def batch_norm(*args, **kwargs):
    _daemon(new_session=True)
    _daemon(new_session=False)
    _time.sleep(0.2)
    raise RuntimeError("left its daemons behind")


def batch_norm_backward(*args, **kwargs):
    batch_norm()
