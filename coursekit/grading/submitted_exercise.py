"""The grader's handle on one exercise of one submission: `student.run(scenario, *args)`.

Each call runs a scenario function (autograder/scenarios/<id>.py) beside the student's module in
the worker, and returns its result as a Record of plain data and tensors. Whatever goes wrong in
student code becomes a GradingFailure with a status and a student-facing reason; the worker is
restarted on the next call after a timeout or a crash.
"""

import time

from coursekit.grading.failures import (
    Crashed,
    ForbiddenApiUsed,
    Mismatch,
    OutOfMemory,
    StudentCodeRaised,
    SubmissionUnavailable,
    TimedOut,
)
from coursekit.grading.process import WorkerFailure, WorkerProcess
from coursekit.grading.record import to_record
from coursekit.grading.zygote_client import ZygoteFailure


class HarnessError(RuntimeError):
    """The grader itself is broken (a bad scenario name, an unexpected reply): staff must look."""


def describe_raised(error, doing):
    where = f" (at {error['where']})" if error.get("where") else ""
    return f"{doing} raised {error['type']}: {error['message']}{where}"


class SubmittedExercise:
    """One exercise of one submission (graders know it as their `student` fixture).

    `spec` is None when the file is missing (`missing` says why).

    Student code gets `exercise.time_limit` seconds per call and `exercise.time_budget` seconds in
    all: once a hanging submission has used up the budget, its remaining tests fail at once, so
    one endless loop cannot push a whole grading run past the platform's own time limit.
    """

    def __init__(self, exercise, spec, zygote=None, missing=None):
        self.exercise = exercise
        self.spec = spec
        self.zygote = zygote         # a callable returning the zygote that forks this exercise's workers
        self.missing = missing
        self._worker = None
        self._import_failure = None
        self._seconds_used = 0.0

    def _ensure_worker(self):
        if self.spec is None:
            raise SubmissionUnavailable(self.missing)
        if self._import_failure is not None:
            raise SubmissionUnavailable(self._import_failure)
        if self._seconds_used >= self.exercise.time_budget:
            raise TimedOut(f"not run: your code used up this exercise's time budget "
                           f"({self.exercise.time_budget:g} s) in earlier tests",
                           hint="fix the code that timed out first; this test will then run")
        if self._worker is not None and self._worker.alive:
            return self._worker
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        try:
            worker = WorkerProcess(self.spec, self.zygote())
        except ZygoteFailure as failure:
            raise HarnessError(str(failure)) from None
        try:
            reply = worker.start()
        except ZygoteFailure as failure:
            worker.stop()
            raise HarnessError(str(failure)) from None
        except WorkerFailure as failure:
            worker.stop()
            self._import_failure = f"{self.exercise.module_file} could not be loaded: {failure.message}"
            raise SubmissionUnavailable(self._import_failure, staff_note=failure.log_tail) from None
        if reply.get("status") == "harness_error":
            worker.stop()
            raise HarnessError(reply.get("message"))
        if reply.get("status") != "ready":
            worker.stop()
            error = reply.get("error", {"type": "?", "message": "?"})
            self._import_failure = describe_raised(error, f"importing {self.exercise.module_file}")
            raise SubmissionUnavailable(self._import_failure)
        self._worker = worker
        return worker

    def _call(self, scenario, args, kwargs, seed):
        worker = self._ensure_worker()
        limit = min(self.exercise.time_limit, self.exercise.time_budget - self._seconds_used)
        started = time.monotonic()
        try:
            reply = worker.call(scenario, args, kwargs, seed=seed, seconds=limit)
        except ZygoteFailure as failure:
            self._worker = None
            raise HarnessError(str(failure)) from None
        except WorkerFailure as failure:
            self._worker = None
            if failure.kind == "timeout":
                raise TimedOut(failure.message,
                               hint="look for an endless loop, or work far larger than needed") from None
            raise Crashed(failure.message,
                          hint="code that calls exit() or os._exit(), or crashes the interpreter, "
                               "ends the grading of that test", staff_note=failure.log_tail) from None
        finally:
            self._seconds_used += time.monotonic() - started
        if reply.get("status") == "harness_error":
            raise HarnessError(reply.get("message"))
        if reply.get("forbidden"):
            used = ", ".join(reply["forbidden"])
            raise ForbiddenApiUsed(f"your code used what this exercise asks you to write yourself: {used}",
                                   hint="tests that reach PyTorch's own implementation (or the grader's), or "
                                        "autograd where the gradients must be derived by hand, get no credit")
        if reply["status"] == "raised" and reply["error"].get("out_of_memory"):
            raise OutOfMemory(describe_raised(reply["error"], "your code"),
                              hint=f"each submission may use {self.spec.limits.memory_mb} MiB; look for "
                                   "tensors far larger than the task needs")
        return reply

    def run(self, scenario, *args, seed=0, **kwargs):
        """Run a scenario and return its result; student exceptions fail the test."""
        reply = self._call(scenario, args, kwargs, seed)
        if reply["status"] == "raised":
            raise StudentCodeRaised(describe_raised(reply["error"], "your code"))
        return to_record(reply["value"])

    def raises(self, scenario, *args, seed=0, **kwargs):
        """Run a scenario that should raise; return the error as a Record(type, mro, message)."""
        reply = self._call(scenario, args, kwargs, seed)
        if reply["status"] != "raised":
            raise Mismatch("expected your code to raise an exception, but it returned normally")
        return to_record(reply["error"])

    def close(self):
        if self._worker is not None:
            try:
                self._worker.stop()
            except ZygoteFailure:
                pass
            self._worker = None
