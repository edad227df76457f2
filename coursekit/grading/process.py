"""Start, talk to and stop one worker process that runs student code.

The worker is started with an argument list, a clean environment and its own scratch folder as
working directory, in a new session so that a timeout kills its whole process group. Requests
and replies travel over two private pipes; the worker's stdout and stderr go to a log file, so
nothing the student prints can be mistaken for a reply.
"""

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from coursekit.worker import wire

WORKER_PACKAGE = Path(__file__).resolve().parent.parent / "worker"
WORKER_PACKAGE_NAME = "_kit_worker"
_LOG_TAIL_BYTES = 2000
LOG_LIMIT_BYTES = 16 * 1024 * 1024   # a worker that writes more is killed (SIGXFSZ)


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs: the student's file, the scenarios beside it, and the rules."""

    module_name: str              # the student's module, imported as this name
    student_file: Path
    scenarios_file: Path
    forbidden: dict = field(default_factory=dict)
    startup_seconds: float = 60.0  # torch's import plus the student module's
    threads: int = 1


class WorkerFailure(Exception):
    """The worker did not reply properly: `kind` is "timeout", "crashed" or "protocol".

    `message` is for the student; `log_tail` (what the worker printed last) is for staff only:
    it could carry whatever the student's code chose to print.
    """

    def __init__(self, kind, message, log_tail=""):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.log_tail = log_tail


def _limit_output():
    """In the worker, before exec: cap the size of any file it writes (its log included)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (LOG_LIMIT_BYTES, LOG_LIMIT_BYTES))


def clean_environment(scratch):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(scratch), "TMPDIR": str(scratch),
           "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


class WorkerProcess:
    """One running worker. `start()` returns the import reply; `call()` runs one scenario."""

    def __init__(self, spec):
        self.spec = spec
        self.scratch = None
        self.process = None
        self._request_fd = self._reply_fd = None
        self._log = None

    def _prepare_scratch(self):
        self.scratch = Path(tempfile.mkdtemp(prefix="kit-worker-"))
        shutil.copytree(WORKER_PACKAGE, self.scratch / WORKER_PACKAGE_NAME,
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(self.spec.student_file, self.scratch / f"{self.spec.module_name}.py")
        shutil.copyfile(self.spec.scenarios_file, self.scratch / f"{self.scenarios_module}.py")

    @property
    def scenarios_module(self):
        return f"_kit_scenarios_{self.spec.module_name}"

    def start(self):
        self._prepare_scratch()
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        self._log = open(self.scratch / "worker.log", "wb")
        command = [sys.executable, "-E", "-s", "-m", WORKER_PACKAGE_NAME,
                   str(request_read), str(reply_write)]
        try:
            self.process = subprocess.Popen(
                command, cwd=self.scratch, env=clean_environment(self.scratch),
                stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                pass_fds=(request_read, reply_write), start_new_session=True, preexec_fn=_limit_output)
        finally:
            os.close(request_read)
            os.close(reply_write)
        os.set_blocking(request_write, False)
        self._request_fd, self._reply_fd = request_write, reply_read
        setup = {"module": self.spec.module_name, "scenarios": self.scenarios_module,
                 "forbidden": self.spec.forbidden, "threads": self.spec.threads}
        return self._exchange(setup, self.spec.startup_seconds, "while importing your module")

    def call(self, scenario, args=(), kwargs=None, seed=0, seconds=10.0):
        request = {"scenario": scenario, "args": list(args), "kwargs": kwargs or {}, "seed": seed}
        return self._exchange(request, seconds, "while running your code")

    def _exchange(self, message, seconds, during):
        deadline = time.monotonic() + seconds
        try:
            wire.write_message(self._request_fd, message, deadline=deadline)
            return wire.read_message(self._reply_fd, deadline=deadline)
        except wire.WireTimeout:
            self.stop()
            raise WorkerFailure("timeout", f"timed out after {seconds:g} s {during}") from None
        except (wire.WireClosed, BrokenPipeError):
            code = self._wait_for_exit()
            tail = self.log_tail()
            self.stop()
            raise WorkerFailure("crashed", f"the process exited {during} ({describe_exit(code)})",
                                log_tail=tail) from None
        except wire.WireError as error:
            self.stop()
            raise WorkerFailure("protocol", f"sent an unreadable reply {during}: {error}") from None

    def _wait_for_exit(self):
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def log_tail(self):
        try:
            with open(self.scratch / "worker.log", "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - _LOG_TAIL_BYTES))
                data = log.read(_LOG_TAIL_BYTES)
        except OSError:
            return ""
        return data.decode("utf-8", "replace").strip()

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        """Kill the worker's whole process group and remove its scratch folder."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.process.wait()
            self.process = None
        for fd in (self._request_fd, self._reply_fd):
            if fd is not None:
                os.close(fd)
        self._request_fd = self._reply_fd = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def describe_exit(code):
    if code is None:
        return "it did not exit"
    if code == -signal.SIGXFSZ:
        return f"it printed or wrote more than the {LOG_LIMIT_BYTES // (1024 * 1024)} MiB allowed"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
