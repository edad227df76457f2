"""The client of a grading server (server.py): one server process, any number of pytest runs at once.

    with GradingServer(isolation_mode, course_file) as server:
        exit_code = server.run(["autograder/test_dropout.py", "--submission", folder, ...], log_path)

The server starts on first use (or `start()`), and ends when the `with` block does (or at
`close()`): nothing else keeps it alive, and no process-wide registry tracks it.
"""

import json
import os
import subprocess
import sys
import threading

from coursekit import paths


class GradingServerError(RuntimeError):
    """The grading server died or answered nonsense."""


class _Pending:
    def __init__(self):
        self.done = threading.Event()
        self.exit = None
        self.failed = False
        self.process = None


class GradingServer:
    """One `python -m coursekit.batch.server` process, started on first use; thread-safe; a context manager.

    Any number of threads may `run()` at once: each request runs in its own fork.
    """

    def __init__(self, isolation_mode=None, course_file=None, launcher=()):
        self.isolation_mode = isolation_mode
        self.course_file = course_file
        self.launcher = list(launcher)     # a command the server runs under (`taskset -c 0`, say), or none
        self.process = None
        self._lock = threading.Lock()
        self._pending = {}          # request id -> _Pending
        self._next_id = 0
        self._stopped = False

    def start(self):
        """Start the server unless it runs; returns once it is ready (raises GradingServerError)."""
        with self._lock:
            if self._stopped:
                raise GradingServerError("the grading server was stopped")
            if self.process is not None and self.process.poll() is None:
                return
            command = [*self.launcher, sys.executable, "-m", "coursekit.batch.server"]
            if self.isolation_mode:
                command += ["--isolation", self.isolation_mode]
            if self.course_file:
                command += ["--course", str(self.course_file)]
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(paths.REPO_ROOT),
                                                                              os.environ.get("PYTHONPATH")]))}
            # A session of its own: a terminal's Ctrl-C reaches the client, which stops the server
            # through its stdin, rather than every process of the server at once.
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                       env=env, cwd=paths.REPO_ROOT, start_new_session=True)
            try:
                line = process.stdout.readline()
            except BaseException:       # Ctrl-C while it boots
                process.kill()
                process.wait()
                raise
            if not line or not json.loads(line).get("ready"):
                process.stdin.close()
                process.wait()
                reason = json.loads(line)["error"] if line else f"exit code {process.returncode}"
                raise GradingServerError(f"the grading server did not start: {reason}")
            self.process = process
            threading.Thread(target=self._read_replies, args=(process,), daemon=True).start()

    def _read_replies(self, process):
        for line in process.stdout:
            reply = json.loads(line)
            with self._lock:
                pending = self._pending.pop(reply["id"], None)
            if pending is not None:
                pending.exit = reply["exit"]
                pending.done.set()
        with self._lock:        # the server ended: whatever it still ran has no answer
            lost = [request_id for request_id, pending in self._pending.items() if pending.process is process]
            for request_id in lost:
                pending = self._pending.pop(request_id)
                pending.failed = True
                pending.done.set()

    def run(self, argv, log, seconds=None):
        """Run `pytest argv` in a fresh fork, output in `log`; its exit code, or None if killed at `seconds`."""
        self.start()
        pending = _Pending()
        with self._lock:
            self._next_id += 1
            request_id, process = self._next_id, self.process
            pending.process = process
            self._pending[request_id] = pending
            try:
                process.stdin.write(json.dumps({"id": request_id, "argv": list(argv), "log": str(log),
                                                "seconds": seconds}) + "\n")
                process.stdin.flush()
            except OSError:
                pending.failed = True
                del self._pending[request_id]
        if not pending.failed:
            pending.done.wait()
        if pending.failed:
            raise GradingServerError("the grading server exited")
        return pending.exit

    @property
    def pid(self):
        return self.process.pid if self.process is not None else None

    def stop(self):
        """Close the server for good: what it runs now ends unanswered, and a later run() fails."""
        with self._lock:
            self._stopped = True
        self.close()

    def close(self):
        """End the server process and what it runs (a later run() starts another)."""
        with self._lock:
            process, self.process = self.process, None
        if process is not None:
            try:
                process.stdin.close()
            except OSError:
                pass
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, traceback):
        self.close()
