"""Start, talk to and stop one worker process that runs student code.

The worker is forked by the zygote (zygote_client.py), confined in a sandbox of its own, with its own
scratch folder as working directory. Requests and replies travel over two private pipes; what
the worker prints goes down a third pipe to a reader that keeps only the tail, so nothing the
student prints can be mistaken for a reply, and a flood of output ends the worker instead of
filling a disk.

The wire (coursekit/worker/wire.py) imports torch, which takes seconds: it is imported on first
use, so that a grading run starts its zygote before its own process loads torch (plugin.py).
"""

import collections
import os
import select
import shutil
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from coursekit.config import Sandbox
from coursekit.grading.bubblewrap import python_roots_under_tmp
from coursekit.grading.landlock_tier import devices, readable_paths
from coursekit.grading.sandbox import worker_rlimits, worker_uid
from coursekit.grading.zygote_client import clean_environment
from coursekit.worker.spawn import SANDBOX_ROOT, SpawnRequest

_LOG_TAIL_BYTES = 2000


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker needs: the student's file, the scenarios beside it, and the rules."""

    module_name: str              # the student's module, imported as this name
    student_file: Path
    scenarios_file: Path
    forbidden: dict = field(default_factory=dict)
    startup_seconds: float = 30.0  # the worker's own set-up, before the student's import
    import_seconds: float = 20.0   # the student module's import
    threads: int = 1
    limits: Sandbox = Sandbox()
    cpu_seconds: float = 600.0
    preload: tuple = ()           # libraries the zygote imports before it forks the worker (course.yml `preload`)


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


def _enterable_temp_dir(uid):
    """The temporary folder, if a worker on `uid` (None: the grader's) can enter it; otherwise /tmp."""
    folder = Path(tempfile.gettempdir())
    if uid is None or all(os.stat(path).st_mode & 0o001 for path in [folder, *folder.parents]):
        return str(folder)
    return "/tmp"


class WorkerProcess:
    """One running worker, forked by `zygote`. `start()` returns the import reply; `call()` runs one scenario."""

    def __init__(self, spec, zygote):
        self.spec = spec
        self.zygote = zygote
        self.worker_id = None
        self.host_scratch = None     # the host folder a worker uses outside bubblewrap
        self._request_fd = self._reply_fd = None
        self._output = None

    @property
    def scenarios_module(self):
        return f"_kit_scenarios_{self.spec.module_name}"

    def start(self):
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        output_read, output_write = os.pipe()
        files = [os.open(self.spec.student_file, os.O_RDONLY), os.open(self.spec.scenarios_file, os.O_RDONLY)]
        tier, uid = self.zygote.isolation.kind, worker_uid(self.zygote.isolation.kind)
        if tier != "bubblewrap":
            self.host_scratch = Path(tempfile.mkdtemp(prefix="kit-worker-", dir=_enterable_temp_dir(uid)))
        scratch = SANDBOX_ROOT if tier == "bubblewrap" else str(self.host_scratch)
        landlock = tier == "landlock" and self.zygote.isolation.landlock_abi > 0
        request = SpawnRequest(module=self.spec.module_name, scenarios=self.scenarios_module, uid=uid,
                               rlimits=worker_rlimits(self.spec.limits, self.spec.cpu_seconds),
                               scratch_bytes=self.spec.limits.scratch_mb << 20, tier=tier,
                               scratch=scratch, environment=clean_environment(scratch),
                               keep_under_tmp=tuple(python_roots_under_tmp()),
                               refuse=tuple(self.spec.forbidden.get("operators", ())),
                               readable=readable_paths(self.zygote.worker_package) if landlock else (),
                               devices=devices() if landlock else (), preload=tuple(self.spec.preload))
        try:
            self.worker_id = self.zygote.spawn(request, [request_read, reply_write, output_write, *files])
        except BaseException:
            for fd in (request_write, reply_read, output_read):
                os.close(fd)
            raise
        finally:
            for fd in (request_read, reply_write, output_write, *files):
                os.close(fd)
        self._output = OutputTail(output_read, self.spec.limits.output_mb << 20, self._kill)
        os.set_blocking(request_write, False)
        self._request_fd, self._reply_fd = request_write, reply_read
        setup = {"module": self.spec.module_name, "scenarios": self.scenarios_module,
                 "forbidden": self.spec.forbidden, "threads": self.spec.threads}
        reply = self._exchange(setup, self.spec.startup_seconds,
                               "while the worker started, before your module was imported")
        if reply.get("status") != "warm":
            return reply
        return self._exchange({"import": self.spec.module_name}, self.spec.import_seconds,
                              "while being imported")

    def call(self, scenario, args=(), kwargs=None, seed=0, seconds=10.0):
        request = {"scenario": scenario, "args": list(args), "kwargs": kwargs or {}, "seed": seed}
        return self._exchange(request, seconds, "during this test")

    def _exchange(self, message, seconds, during):
        from coursekit.worker import wire  # imports torch: on first use (see the module's docstring)

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
        return self.zygote.wait(self.worker_id, 5.0)

    def log_tail(self):
        return self._output.text() if self._output is not None else ""

    def _kill(self):
        if self.worker_id is not None:
            self.zygote.kill(self.worker_id)

    @property
    def alive(self):
        """Whether the worker waits for a request: its reply pipe is neither closed nor holding bytes
        sent out of turn. A local check, with no round trip to the zygote: a worker that ended
        (and, in its own PID namespace, every process it started) has closed the pipe."""
        if self.worker_id is None or self._reply_fd is None:
            return False
        readable, _, _ = select.select([self._reply_fd], [], [], 0)
        return not readable

    def stop(self):
        """Kill the worker and everything it started, and remove its scratch folder."""
        if self.worker_id is not None:
            try:
                self._kill()
            finally:
                self.worker_id = None
        for fd in (self._request_fd, self._reply_fd):
            if fd is not None:
                os.close(fd)
        self._request_fd = self._reply_fd = None
        if self._output is not None:
            self._output.close()
            self._output = None
        if self.host_scratch is not None:
            shutil.rmtree(self.host_scratch, ignore_errors=True)
            self.host_scratch = None


def describe_exit(code, spec):
    """(failure kind, what happened) for a worker that exited with `code` (None: it did not exit).

    The zygote reports a worker killed by signal S as exit code 128 + S.
    """
    if code is None:
        return "crashed", "did not exit"
    signal_number = code - 128 if code > 128 else 0
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
