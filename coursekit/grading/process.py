"""Start, talk to and stop one worker process that runs student code.

The worker is started confined (see sandbox.py) with an argument list, a clean environment and
its own scratch folder as working directory, in a new session so that a timeout kills its whole
process group. Requests and replies travel over two private pipes; what the worker prints goes
down a third pipe to a reader that keeps only the tail, so nothing the student prints can be
mistaken for a reply, and a flood of output ends the worker instead of filling a disk.
"""

import collections
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from coursekit.config import Sandbox
from coursekit.grading.sandbox import Isolation, plan_launch
from coursekit.worker import wire

WORKER_PACKAGE = Path(__file__).resolve().parent.parent / "worker"
WORKER_PACKAGE_NAME = "_kit_worker"
_LOG_TAIL_BYTES = 2000


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs: the student's file, the scenarios beside it, and the rules."""

    module_name: str              # the student's module, imported as this name
    student_file: Path
    scenarios_file: Path
    forbidden: dict = field(default_factory=dict)
    startup_seconds: float = 60.0  # the worker's own start: Python and torch
    import_seconds: float = 20.0   # the student module's import
    threads: int = 1
    isolation: Isolation = Isolation("none", "no sandbox was asked for")
    limits: Sandbox = Sandbox()
    cpu_seconds: float = 600.0


class WorkerFailure(Exception):
    """The worker did not reply properly: `kind` is "timeout", "crashed" or "protocol".

    `message` is for the student, a whole clause ("your code timed out after 3 s during this
    test"); `log_tail` (what the worker printed last) is for staff only: it could carry whatever
    the student's code chose to print.
    """

    def __init__(self, kind, message, log_tail=""):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.log_tail = log_tail


class OutputTail:
    """Reads what the worker prints on a thread, keeps the last bytes, and ends a flood.

    When more than `limit` bytes arrive, `on_flood` is called once (it kills the worker) and
    everything after is read and dropped, so the worker can never block on a full pipe.
    """

    def __init__(self, fd, limit, on_flood):
        self.limit = limit
        self.flooded = False
        self._fd = fd
        self._on_flood = on_flood
        self._tail = collections.deque()
        self._tail_bytes = 0
        self._total = 0
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self):
        try:
            while chunk := os.read(self._fd, 65536):
                self._total += len(chunk)
                self._tail.append(chunk)
                self._tail_bytes += len(chunk)
                while self._tail_bytes - len(self._tail[0]) >= _LOG_TAIL_BYTES:
                    self._tail_bytes -= len(self._tail.popleft())
                if self._total > self.limit and not self.flooded:
                    self.flooded = True
                    self._on_flood()
        except OSError:
            pass
        finally:
            os.close(self._fd)

    def text(self):
        data = b"".join(self._tail)[-_LOG_TAIL_BYTES:]
        return data.decode("utf-8", "replace").strip()

    def close(self, seconds=5):
        self._thread.join(seconds)


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
        self._output = None

    def _prepare_scratch(self):
        """Stage the worker's files in a host folder; returns the names the worker sees."""
        self.scratch = Path(tempfile.mkdtemp(prefix="kit-worker-"))
        self.scratch.chmod(0o755)
        shutil.copytree(WORKER_PACKAGE, self.scratch / WORKER_PACKAGE_NAME,
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copyfile(self.spec.student_file, self.scratch / f"{self.spec.module_name}.py")
        shutil.copyfile(self.spec.scenarios_file, self.scratch / f"{self.scenarios_module}.py")
        return [WORKER_PACKAGE_NAME, f"{self.spec.module_name}.py", f"{self.scenarios_module}.py"]

    @property
    def scenarios_module(self):
        return f"_kit_scenarios_{self.spec.module_name}"

    def start(self):
        names = self._prepare_scratch()
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        output_read, output_write = os.pipe()
        launch = plan_launch(self.spec.isolation, self.spec.limits, self.spec.cpu_seconds, self.scratch,
                             names, ["-m", WORKER_PACKAGE_NAME, str(request_read), str(reply_write)])
        try:
            self.process = subprocess.Popen(
                launch.argv, cwd=launch.cwd, env=clean_environment(launch.scratch),
                stdin=subprocess.DEVNULL, stdout=output_write, stderr=output_write,
                pass_fds=(request_read, reply_write), start_new_session=True,
                preexec_fn=launch.before_exec)
        except BaseException:
            os.close(output_read)
            raise
        finally:
            for fd in (request_read, reply_write, output_write):
                os.close(fd)
        self._output = OutputTail(output_read, self.spec.limits.output_mb << 20, self._kill)
        os.set_blocking(request_write, False)
        self._request_fd, self._reply_fd = request_write, reply_read
        setup = {"module": self.spec.module_name, "scenarios": self.scenarios_module,
                 "forbidden": self.spec.forbidden, "threads": self.spec.threads}
        reply = self._exchange(setup, self.spec.startup_seconds, "while the worker started, before your module was imported")
        if reply.get("status") != "warm":
            return reply
        return self._exchange({"import": self.spec.module_name}, self.spec.import_seconds,
                              "while being imported")

    def call(self, scenario, args=(), kwargs=None, seed=0, seconds=10.0):
        request = {"scenario": scenario, "args": list(args), "kwargs": kwargs or {}, "seed": seed}
        return self._exchange(request, seconds, "during this test")

    def _exchange(self, message, seconds, during):
        deadline = time.monotonic() + seconds
        try:
            wire.write_message(self._request_fd, message, deadline=deadline)
            return wire.read_message(self._reply_fd, deadline=deadline)
        except wire.WireTimeout:
            self.stop()
            raise WorkerFailure("timeout", f"your code timed out after {seconds:g} s {during}") from None
        except (wire.WireClosed, BrokenPipeError):
            code = self._wait_for_exit()
            if self._output is not None:
                self._output.close()
            tail = self.log_tail()
            flooded = self._output is not None and self._output.flooded
            self.stop()
            if flooded:
                raise WorkerFailure("crashed", f"your code printed more than {self.spec.limits.output_mb} MiB "
                                               f"{during}, and was stopped", log_tail=tail) from None
            kind, why = describe_exit(code, self.spec)
            raise WorkerFailure(kind, f"your code {why} {during}", log_tail=tail) from None
        except wire.WireError as error:
            self.stop()
            raise WorkerFailure("protocol", f"your code's process sent an unreadable reply {during}: {error}") from None

    def _wait_for_exit(self):
        try:
            return self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return None

    def log_tail(self):
        return self._output.text() if self._output is not None else ""

    def _kill(self):
        process = self.process
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        """Kill the worker's whole process group and remove its scratch folder."""
        if self.process is not None:
            self._kill()
            self.process.wait()
            self.process = None
        for fd in (self._request_fd, self._reply_fd):
            if fd is not None:
                os.close(fd)
        self._request_fd = self._reply_fd = None
        if self._output is not None:
            self._output.close()
            self._output = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None


def describe_exit(code, spec):
    """(failure kind, what happened) for a worker that exited with `code` (None: it did not exit).

    bubblewrap reports a worker killed by signal S as exit code 128 + S.
    """
    if code is None:
        return "crashed", "did not exit"
    signal_number = -code if code < 0 else (code - 128 if spec.isolation.kind == "bubblewrap" and code > 128 else 0)
    if signal_number == signal.SIGXFSZ:
        return "crashed", f"wrote a file larger than the {spec.limits.file_size_mb} MiB allowed"
    if signal_number == signal.SIGXCPU:
        return "timeout", f"used more than its {spec.cpu_seconds:g} s of CPU time"
    if signal_number == signal.SIGKILL:
        return "crashed", "was killed (SIGKILL; often the system running out of memory)"
    if signal_number:
        try:
            return "crashed", f"was killed by {signal.Signals(signal_number).name}"
        except ValueError:
            return "crashed", f"was killed by signal {signal_number}"
    return "crashed", f"exited (exit code {code})"
