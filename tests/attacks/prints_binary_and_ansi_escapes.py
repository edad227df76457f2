"""A correct submission that prints bytes that are not UTF-8, and terminal escape sequences."""
import sys as _sys

_sys.stdout.buffer.write(b"\xff\xfe\x00\x1b[2J\x1b[31mnot utf-8: \xc3\x28\x1b[0m\n")
_sys.stdout.flush()
_reference_batch_norm = batch_norm


def batch_norm(*args, **kwargs):
    _sys.stderr.buffer.write(b"\x1b]0;title\x07\xfe\xff\r\n")
    return _reference_batch_norm(*args, **kwargs)
