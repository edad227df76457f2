"""The zygote's client (the server is coursekit/worker/zygote_server.py): start it, ask it for workers.

A zygote is started in its tier (see sandbox.py) with torch loaded once, so a worker for an
exercise costs a fork instead of a Python and torch start. A process that grades many
submissions (the class grader's server, the kit's own tests) starts one with `preload()`, and
gives each grading child it forks a connection of its own (`connect()`, then `adopt()` in the
child), so that many children grade at once; a grading run uses that connection when its
isolation matches, and otherwise starts its own zygote.

The zygote is part of the grader: if it fails, the tests it was serving are graded as a grader
error, never as the student's fault.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

from coursekit.grading.sandbox import plan_zygote
from coursekit.worker.spawn import SANDBOX_ROOT

WORKER_PACKAGE = Path(__file__).resolve().parent.parent / "worker"
WORKER_PACKAGE_NAME = "_kit_worker"
_CONTROL_SECONDS = 30.0
_MAX_REPLY_BYTES = 1 << 16


class ZygoteFailure(RuntimeError):
    """The zygote did not start or stopped answering: a fault of the grading machine, not the student."""


def clean_environment(home):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(home), "TMPDIR": str(home),
           "LANG": "C.UTF-8", "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    if "CUDA_VISIBLE_DEVICES" in os.environ:
        env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return env


class ZygoteConnection:
    """One control connection to a running zygote: it names, and may end, only its own workers.

    `spawn()` starts a worker and returns its id; `kill()` ends it. When the connection closes
    (its process ends, too), the zygote kills whatever workers it still has.
    """

    def __init__(self, control, isolation, worker_package, zygote_pid, log_tail=lambda: ""):
        self.isolation = isolation
        self.worker_package = worker_package     # the staged copy the zygote runs, as the host sees it
        self._control = control
        self._zygote_pid = zygote_pid
        self._log_tail = log_tail
        self._lock = threading.Lock()
        self._seq = 0
        self._seq_pid = None

    def log_tail(self):
        return self._log_tail()

    def _receive(self):
        data = self._control.recv(_MAX_REPLY_BYTES)
        if not data:
            raise ZygoteFailure(f"the grading sandbox exited; its output:\n{self.log_tail()}")
        return json.loads(data)

    def request(self, op, fds=(), **fields):
        """Send one request and return the zygote's reply (a dict)."""
        with self._lock:
            if self._control is None:
                raise ZygoteFailure("the grading sandbox is closed")
            if self._seq_pid != os.getpid():    # a fork numbers its requests apart from its parent's
                self._seq_pid, self._seq = os.getpid(), os.getpid() << 32
            self._seq += 1
            message = json.dumps({"op": op, "seq": self._seq, **fields}).encode()
            try:
                socket.send_fds(self._control, [message], list(fds))
                while (reply := self._receive()).get("seq") != self._seq:
                    pass      # a late answer to a request whose caller gave up
            except OSError as error:
                raise ZygoteFailure(f"the grading sandbox stopped answering ({op}): {error}") from None
        if "error" in reply:
            raise ZygoteFailure(f"the grading sandbox could not {op}: {reply['error']}")
        return reply

    @property
    def alive(self):
        if self._control is None:
            return False
        try:
            os.kill(self._zygote_pid, 0)
            return True
        except OSError:
            return False

    def connect(self):
        """A new connection to the same zygote, for another process (pass it on before forking)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.request("connect", fds=[theirs.fileno()])
        except ZygoteFailure:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.settimeout(_CONTROL_SECONDS)
        return ZygoteConnection(ours, self.isolation, self.worker_package, self._zygote_pid, self._log_tail)

    def spawn(self, request, fds):
        """Start the worker a SpawnRequest describes, with the descriptors `fds` (in
        spawn.SPAWN_DESCRIPTORS' order); returns its id."""
        return self.request("spawn", fds=fds, **request.to_message())["id"]

    def poll(self, worker_id):
        """The worker's exit code (128 + S for a signal S), or None while it runs."""
        return self.request("poll", id=worker_id)["exit"]

    def wait(self, worker_id, seconds):
        return self.request("wait", id=worker_id, seconds=seconds)["exit"]

    def kill(self, worker_id):
        """Kill the worker and everything it started; returns its exit code."""
        return self.request("kill", id=worker_id)["exit"]

    def reset(self):
        """Kill every worker of this connection still running (between two submissions)."""
        return self.request("reset")["killed"]

    def resolve(self, name):
        """Look a dotted name up in the zygote (ValueError if it names nothing there)."""
        error = self.request("resolve", names=[name])["errors"].get(name)
        if error is not None:
            raise ValueError(error)

    def close(self):
        if self._control is not None:
            self._control.close()
            self._control = None


class ZygoteClient(ZygoteConnection):
    """A zygote process, started in its tier (see sandbox.py), and its first connection.

    With `wait=False` it boots while the caller does other work; `ready()` then waits for it.
    Closing the first connection ends the zygote.
    """

    def __init__(self, isolation, scratch_bytes, startup_seconds=120.0, wait=True):
        self.scratch_bytes = scratch_bytes
        self.process = None
        self._staged = Path(tempfile.mkdtemp(prefix="kit-zygote-"))
        self._owner = os.getpid()
        self._startup_seconds = startup_seconds
        self._ready = False
        self._log = tempfile.TemporaryFile()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        super().__init__(ours, isolation, self._staged / WORKER_PACKAGE_NAME, None, self._read_log)
        self._launch(theirs)
        if wait:
            self.ready()

    def _launch(self, theirs):
        self._staged.chmod(0o755)
        shutil.copytree(WORKER_PACKAGE, self._staged / WORKER_PACKAGE_NAME,
                        ignore=shutil.ignore_patterns("__pycache__"))
        launch = plan_zygote(self.isolation, self._staged, [WORKER_PACKAGE_NAME],
                             ["-m", WORKER_PACKAGE_NAME, str(theirs.fileno())], self.scratch_bytes)
        home = SANDBOX_ROOT if launch.tier == "bubblewrap" else self._staged
        try:
            self.process = subprocess.Popen(launch.argv, cwd=launch.cwd, env=clean_environment(home),
                                            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
                                            pass_fds=(theirs.fileno(),), start_new_session=True)
        except OSError as error:
            self.close()
            raise ZygoteFailure(f"the grading sandbox did not start: {error}") from None
        finally:
            theirs.close()
        self._zygote_pid = self.process.pid

    def ready(self):
        """Wait until the zygote serves (at once if it already did); raises ZygoteFailure if it does not."""
        if self._ready:
            return self
        if self._control is None:
            raise ZygoteFailure(f"the grading sandbox did not start; its output:\n{self.log_tail()}")
        self._control.settimeout(self._startup_seconds)
        try:
            ready = self._receive()
        except (OSError, ZygoteFailure) as error:
            self.close()
            raise ZygoteFailure(f"the grading sandbox did not start: {error}; its output:\n{self.log_tail()}") from None
        if not ready.get("ready"):
            self.close()
            raise ZygoteFailure(f"the grading sandbox did not start: {ready}")
        self._control.settimeout(_CONTROL_SECONDS)
        self._ready = True
        return self

    def _read_log(self, limit=3000):
        try:
            self._log.seek(0)
            return self._log.read().decode("utf-8", "replace")[-limit:]
        except (OSError, ValueError):
            return ""

    @property
    def alive(self):
        if self._control is None or self.process is None:
            return False
        if self._owner == os.getpid():
            return self.process.poll() is None
        return super().alive      # a fork of the process that started it cannot wait for it

    def close(self):
        super().close()
        if self.process is not None and self._owner == os.getpid():
            self.process.kill()
            self.process.wait()
            self.process = None
        if self._owner == os.getpid():
            shutil.rmtree(self._staged, ignore_errors=True)


_PRELOADED = None


def preload(isolation, scratch_bytes, wait=True):
    """Start the zygote that every grading run in this process (and its forks) will share."""
    global _PRELOADED
    _PRELOADED = ZygoteClient(isolation, scratch_bytes, wait=wait)
    return _PRELOADED


def adopt(connection):
    """In a fork: grade over `connection` (from `connect()` before the fork) instead of the parent's."""
    global _PRELOADED
    inherited, _PRELOADED = _PRELOADED, connection
    if inherited is not None and inherited is not connection:
        inherited.close()       # the parent's connection: a fork never closes the zygote itself


def preloaded(isolation):
    """The preloaded zygote, if there is one for `isolation` and it still runs."""
    zygote = _PRELOADED
    if zygote is not None and zygote.isolation == isolation and zygote.alive:
        return zygote
    return None
