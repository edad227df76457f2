"""A grading server: pytest runs that skip Python's, torch's and the sandbox's start-up.

`python -m coursekit.batch.server [--isolation MODE]` imports torch, pytest and the grading
harness once, starts a zygote (coursekit/grading/zygote.py), then reads one JSON request per
line on stdin: {"argv": [...], "log": path, "seconds": limit}. For each it forks a child that
runs `pytest.main(argv)` in the repository root with its output in `log`, waits for it (killing
it past `seconds`), kills any worker the child left behind, and answers with one JSON line
{"exit": code} (code None: killed at the limit). The server warms torch up on one thread and
the CPU only (`warm_torch`), so its children start warm and without thread pools (forking after
those exist is unsafe).

`GradingServer` is the client: one server process, one request at a time.
"""

import argparse
import gc
import json
import os
import signal
import subprocess
import sys
import time

from coursekit import paths

_POLL_SECONDS = 0.02


def _run_child(argv, log_path):
    import pytest
    import torch
    os.chdir(paths.REPO_ROOT)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    torch.set_num_threads(1)      # the grader's own oracles; parallelism comes from more servers
    try:
        code = int(pytest.main(argv))
    except BaseException:
        code = 99
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _wait(child, seconds):
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            return os.waitstatus_to_exitcode(status)
        if deadline is not None and time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            return None
        time.sleep(_POLL_SECONDS)


def serve(isolation_mode):
    import pytest  # noqa: F401  (preloaded for the children)
    import sklearn.datasets  # noqa: F401  (the graders' data; its import alone takes 1.5 s)
    import torch  # noqa: F401
    import yaml  # noqa: F401

    import coursekit.grading.plugin  # noqa: F401
    from coursekit.config import load_course
    from coursekit.grading import zygote
    from coursekit.grading.sandbox import choose_isolation
    from coursekit.worker.serve import warm_torch

    warm_torch()

    course = load_course(paths.COURSE_FILE)
    shared = None
    try:
        shared = zygote.preload(choose_isolation(isolation_mode or course.sandbox.isolation),
                                course.sandbox.scratch_mb << 20)
    except Exception as error:  # each run then starts its own, and reports what fails there
        print(f"grading server: no shared zygote: {error}", file=sys.stderr, flush=True)
    gc.freeze()     # what is loaded now stays: no child's collection walks or copies it again
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        child = os.fork()
        if child == 0:
            _run_child(request["argv"], request["log"])
        code = _wait(child, request.get("seconds"))
        if shared is not None and shared.alive:
            shared.reset()
        print(json.dumps({"exit": code}), flush=True)


class GradingServerError(RuntimeError):
    """The grading server died or answered nonsense."""


class GradingServer:
    """One `python -m coursekit.batch.server` process, started on first use."""

    def __init__(self, isolation_mode=None):
        self.isolation_mode = isolation_mode
        self.process = None

    def _start(self):
        command = [sys.executable, "-m", "coursekit.batch.server"]
        if self.isolation_mode:
            command += ["--isolation", self.isolation_mode]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(paths.REPO_ROOT),
                                                                          os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env=env, cwd=paths.REPO_ROOT)
        self._read()

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            self.close()
            raise GradingServerError("the grading server exited")
        return json.loads(line)

    def run(self, argv, log, seconds=None):
        """Run `pytest argv` in a fresh fork, output in `log`; its exit code, or None if killed at `seconds`."""
        if self.process is None or self.process.poll() is not None:
            self._start()
        self.process.stdin.write(json.dumps({"argv": list(argv), "log": str(log), "seconds": seconds}) + "\n")
        self.process.stdin.flush()
        return self._read()["exit"]

    @property
    def pid(self):
        return self.process.pid if self.process is not None else None

    def close(self):
        if self.process is not None:
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="a preloaded pytest server for grading")
    parser.add_argument("--isolation", choices=("auto", "bubblewrap", "none"))
    serve(parser.parse_args().isolation)
