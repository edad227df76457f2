"""The worker's request loop: import the student's module once, then run scenarios on request.

The worker is forked from the zygote, which has imported torch and warmed it up (`warm_up`).
The first request configures the worker; the second asks it to import the student's module
(timed like any call into student code).

Replies (all plain data):
    {"status": "warm"}                                    configured, before the student's import
    {"status": "ready"}                                   after a successful import
    {"status": "ok", "value": ..., "forbidden": [...]}    a scenario returned
    {"status": "raised", "error": {...}, "forbidden": [...]}   student code raised
    {"status": "import_failed", "error": {...}}           the module could not be imported
An `error` is {"type", "mro", "message", "where", "out_of_memory"}: `where` names the deepest frame in the
student's own file, never the harness or the graders.
"""

import importlib
import os
import traceback

import torch

from . import toolkit, wire
from .guard import ForbiddenApiGuard
from .plain import to_plain
from .seeding import manual_seed

_MESSAGE_LIMIT = 200   # enough for a shape error; too little to carry a hidden input out


def _safe_str(value):
    try:
        text = str(value)
    except BaseException:  # a student exception whose __str__ itself fails
        text = f"<{type(value).__name__} with an unprintable message>"
    return text if len(text) <= _MESSAGE_LIMIT else text[:_MESSAGE_LIMIT] + "..."


def _out_of_memory(error, message):
    return isinstance(error, MemoryError) or (
        isinstance(error, RuntimeError) and ("can't allocate memory" in message or "out of memory" in message))


def describe_error(error, student_file):
    where = ""
    for frame in traceback.extract_tb(error.__traceback__):
        if os.path.basename(frame.filename) == student_file:
            where = f"{student_file}, line {frame.lineno}, in {frame.name}"
    if isinstance(error, SyntaxError) and error.filename and os.path.basename(error.filename) == student_file:
        where = f"{student_file}, line {error.lineno}"
    message = _safe_str(error)
    return {"type": type(error).__name__,
            "mro": [cls.__name__ for cls in type(error).__mro__],
            "message": message,
            "where": where,
            "out_of_memory": _out_of_memory(error, message)}


def warm_torch():
    """Pay torch's lazy imports before any timed call: on one thread, on the CPU only.

    An optimizer's first step alone imports torch._dynamo (about two seconds). Safe before a
    fork: one thread and no CUDA start no thread pool (never use CUDA before a fork).
    """
    torch.set_num_threads(1)
    layer = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    logits = layer(torch.ones(3, 2, requires_grad=True))
    torch.nn.functional.cross_entropy(logits, torch.zeros(3, dtype=torch.int64)).backward()
    optimizer.step()
    repr(layer), layer.state_dict()


def warm_up(guard):
    """`warm_torch` under the guard's modes, whose first use imports much of torch too.

    Runs once in the zygote, so that every worker it forks starts warm.
    """
    with guard.watching():
        warm_torch()
    guard.hits.clear()


class Worker:
    def __init__(self, setup):
        self.module_name = setup["module"]
        self.student_file = self.module_name + ".py"
        torch.set_num_threads(int(setup.get("threads", 1)))
        forbidden = setup.get("forbidden", {})
        self.guard = ForbiddenApiGuard(forbidden.get("operators", ()), forbidden.get("classes", ()),
                                       forbidden.get("autograd_in", ()), forbidden.get("functions", ()))
        self.guard.install()
        toolkit.watch(self.module_name, setup["scenarios"], self.guard.hits)
        self.scenarios = importlib.import_module(setup["scenarios"])
        self.student = None
        self.import_hits = []

    def import_student(self):
        try:
            with self.guard.watching():
                self.student = importlib.import_module(self.module_name)
        except BaseException as error:  # SyntaxError, SystemExit, anything at import
            return {"status": "import_failed", "error": describe_error(error, self.student_file)}
        self.guard.guard_module(self.student)
        self.import_hits = sorted(self.guard.hits)
        return {"status": "ready"}

    def run(self, request):
        scenario = getattr(self.scenarios, request["scenario"], None)
        if request["scenario"].startswith("_") or not callable(scenario):
            return {"status": "harness_error", "message": f"no scenario {request['scenario']!r}"}
        self.guard.hits.clear()
        self.guard.hits.update(self.import_hits)
        toolkit.report_borrowed_names(self.student)
        manual_seed(request.get("seed", 0))
        try:
            with self.guard.watching():
                value = scenario(self.student, *request.get("args", ()), **request.get("kwargs", {}))
            reply = {"status": "ok", "value": to_plain(value)}
        except BaseException as error:  # SystemExit and KeyboardInterrupt from student code too
            reply = {"status": "raised", "error": describe_error(error, self.student_file)}
        reply["forbidden"] = sorted(self.guard.hits)
        return reply


def serve(request_fd, reply_fd):
    try:
        worker = Worker(wire.read_message(request_fd))
    except Exception as error:  # a bad configuration (e.g. a forbidden class that does not exist)
        wire.write_message(reply_fd, {"status": "harness_error",
                                      "message": f"worker set-up failed: {type(error).__name__}: {_safe_str(error)}"})
        return
    wire.write_message(reply_fd, {"status": "warm"})
    wire.read_message(request_fd)
    wire.write_message(reply_fd, worker.import_student())
    if worker.student is None:
        return
    while True:
        try:
            request = wire.read_message(request_fd)
        except wire.WireClosed:
            return
        reply = worker.run(request)
        try:
            wire.write_message(reply_fd, reply)
        except Exception as error:  # e.g. the value could not be serialised
            wire.write_message(reply_fd, {"status": "harness_error",
                                          "message": f"could not send the result: {_safe_str(error)}"})
