"""A grading server: pytest runs that skip Python's, torch's and the sandbox's start-up.

`python -m coursekit.batch.server [--isolation MODE] [--course FILE]` starts a zygote
(coursekit/grading/zygote_client.py), imports torch, pytest and the grading harness while the zygote
boots, checks the course file (its answer is {"ready": false, "error": ...} if it is broken),
then reads one JSON request per line on stdin: {"id": any, "argv": [...], "log": path, "seconds": limit}. For
each it forks a child at once that runs `pytest.main(argv)` in the repository root with its
output in `log`, over a zygote connection of its own and with a temporary folder of its own (removed
when it ends, however it ends), so that many requests run side by side.
As each child ends it answers with one JSON line {"id": ..., "exit": code} (code None: killed at
`seconds`); the zygote kills whatever workers the child left. The server warms torch up on one
thread and the CPU only (`warm_torch`), so its children start warm and without thread pools
(forking after those exist is unsafe). At the end of stdin it kills what still runs, and exits.

Its client, `GradingServer`, is in client.py.
"""

import argparse
import gc
import json
import os
import selectors
import shutil
import signal
import sys
import tempfile
import time

from coursekit import paths
from coursekit.config import ISOLATIONS
from coursekit.messages import warn

_POLL_SECONDS = 0.02


def _run_child(argv, log_path, connection, scratch):
    import pytest
    import torch

    from coursekit.grading import zygote_client as zygote
    zygote.adopt(connection)
    os.environ["TMPDIR"] = tempfile.tempdir = scratch     # removed once the child ends, however it ends
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"     # the graders need no installed plugin
    os.chdir(paths.REPO_ROOT)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    torch.set_num_threads(1)      # the grader's own oracles; parallelism comes from more children
    try:
        code = int(pytest.main(argv))
    except BaseException:
        code = 99
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _launch_zygote(isolation_mode, course):
    """Start the shared zygote booting (it finishes while the server imports); None if it cannot start."""
    from coursekit.grading import zygote_client as zygote
    from coursekit.grading.sandbox import choose_isolation
    try:
        return zygote.preload(choose_isolation(isolation_mode or course.sandbox.isolation),
                              course.sandbox.scratch_mb << 20, wait=False)
    except Exception as error:  # each run then starts its own, and reports what fails there
        warn("grading server", f"no shared zygote: {error}")
        return None


def _ready(booting):
    """The booting zygote once it serves, or None if it failed (the failure is printed)."""
    from coursekit.grading import zygote_client as zygote
    if booting is None:
        return None
    try:
        return booting.ready()
    except zygote.ZygoteFailure as error:
        warn("grading server", f"no shared zygote: {error}")
        return None     # ready() closed it, so preloaded() no longer offers it


def _preload():
    import pytest  # noqa: F401  (preloaded for the children)
    import torch  # noqa: F401
    import yaml  # noqa: F401

    import coursekit.grading.plugin  # noqa: F401
    from coursekit.datasets import read_bundled_data
    from coursekit.worker.serve import warm_torch
    warm_torch()
    read_bundled_data()     # the graders' data, read once for every child


class _Children:
    """The running children: start, reap, and kill past their limits.

    `start_zygote()` gives a ready shared zygote, or None; it is called again if the one in use
    stops (killed for memory, say), so that later children still share one.
    """

    def __init__(self, start_zygote):
        self._start_zygote = start_zygote
        self.shared = start_zygote()
        self.running = {}       # pid -> (request id, deadline or None)

    def connection(self):
        """A zygote connection for the next child, or None (it then starts a zygote of its own)."""
        from coursekit.grading import zygote_client as zygote
        if self.shared is not None and not self.shared.alive:
            warn("grading server", "the shared zygote stopped; starting another")
            self.shared.close()
            self.shared = self._start_zygote()
        if self.shared is None:
            return None
        try:
            return self.shared.connect()
        except zygote.ZygoteFailure as error:
            warn("grading server", error)
            return None

    def start(self, request):
        connection = self.connection()
        scratch = tempfile.mkdtemp(prefix="kit-run-")     # the child's temporary folder (its workers' too)
        child = os.fork()
        if child == 0:
            _run_child(request["argv"], request["log"], connection, scratch)
        if connection is not None:
            connection.close()          # the child's copy stays open while it runs
        seconds = request.get("seconds")
        self.running[child] = (request.get("id"), None if seconds is None else time.monotonic() + seconds, scratch)

    def finished(self):
        """(request id, exit code or None) for every child that ended or was killed since last asked."""
        done = []
        for child, (request_id, deadline, scratch) in list(self.running.items()):
            pid, status = os.waitpid(child, os.WNOHANG)
            if pid:
                done.append((request_id, os.waitstatus_to_exitcode(status)))
            elif deadline is not None and time.monotonic() > deadline:
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                done.append((request_id, None))
            else:
                continue
            del self.running[child]
            shutil.rmtree(scratch, ignore_errors=True)
        return done

    def kill_all(self):
        for child, (_, _, scratch) in self.running.items():
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            shutil.rmtree(scratch, ignore_errors=True)
        self.running.clear()

    def close(self):
        """Kill what still runs, then stop the shared zygote (which removes its staged files)."""
        self.kill_all()
        if self.shared is not None:
            self.shared.close()
            self.shared = None


def _requests(selector, pending):
    """The complete lines stdin holds now, as requests; None at its end."""
    if not selector.select(timeout=_POLL_SECONDS):
        return []
    data = os.read(0, 1 << 16)
    if not data:
        return None
    pending.extend(data)
    *lines, rest = bytes(pending).split(b"\n")
    pending[:] = rest
    return [json.loads(line) for line in lines if line.strip()]


def serve(isolation_mode, course_file):
    from coursekit.config import load_course
    from coursekit.course_checks import course_problems

    course = load_course(course_file)
    booting = _launch_zygote(isolation_mode, course)
    _preload()
    unused = [booting]

    def shared_zygote():
        """The zygote launched at the start the first time; a new one after that."""
        return _ready(unused.pop() if unused else _launch_zygote(isolation_mode, course))

    children = _Children(shared_zygote)
    try:
        # The zygote looks the forbidden classes up (importing their libraries there): the server need not.
        problems = course_problems(course, resolve=children.shared.resolve if children.shared else None)
        if problems:
            print(json.dumps({"ready": False, "error": "; ".join(problems)}), flush=True)
            return
        gc.freeze()     # what is loaded now stays: no child's collection walks or copies it again
        print(json.dumps({"ready": True}), flush=True)
        selector = selectors.DefaultSelector()
        selector.register(0, selectors.EVENT_READ)
        pending = bytearray()
        while True:
            requests = _requests(selector, pending)
            if requests is None:
                return
            for request in requests:
                children.start(request)
            for request_id, code in children.finished():
                print(json.dumps({"id": request_id, "exit": code}), flush=True)
    finally:
        children.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a preloaded pytest server for grading")
    parser.add_argument("--isolation", choices=ISOLATIONS)
    parser.add_argument("--course", default=str(paths.COURSE_FILE), help="the course file (checked at start)")
    arguments = parser.parse_args()
    serve(arguments.isolation, arguments.course)
