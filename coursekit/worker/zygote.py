"""The zygote: a process with torch loaded that forks a confined worker for each exercise.

Python and torch take seconds to start; a fork takes milliseconds. The zygote imports torch and
this package once, warms torch up (one thread, CPU only, so forking stays safe), and then serves
requests from the grader on control connections (one JSON message each, file descriptors
alongside):

    {"op": "connect", "seq"}   with descriptors [socket]      -> {"seq"}
        a further connection, served like the first: each grading process that shares this
        zygote gets its own, so that answers never cross
    {"op": "spawn", "seq", "module", "scenarios", "uid", "rlimits", "scratch_bytes", "private",
     "environment", "host_scratch", "keep_under_tmp", "refuse"}
        with descriptors [request_read, reply_write, output_write, student_file, scenarios_file]
        -> {"seq", "id"}
        "refuse": the operator patterns the worker will refuse (guard.py), whose targets the
        zygote finds once and every later worker inherits
    {"op": "poll", "seq", "id"}                -> {"seq", "exit": code or None}
    {"op": "wait", "seq", "id", "seconds"}     -> {"seq", "exit": code or None}   (answered later)
    {"op": "kill", "seq", "id"}                -> {"seq", "exit": code}   (kills, then reaps)
    {"op": "reset", "seq"}                     -> {"seq", "killed": n}   (this connection's workers)
    {"op": "resolve", "seq", "names": [...]}   -> {"seq", "errors": {name: why}}
        which dotted names (course.yml's forbidden classes) name nothing here, where the student
        libraries are imported already

A connection names only the workers it spawned. When one closes, its workers are killed; when
the first one closes, the zygote exits.

Each worker is three processes: a holder that enters new mount, PID and IPC namespaces
("private": true, inside bubblewrap) and mounts private tmpfs folders on /sandbox and /tmp; its
child, PID 1 of the new namespace, which mounts /proc and reaps; and the worker proper, which
copies the student's module and the scenarios into /sandbox, sets its resource limits, drops
every privilege and serves the grader (serve.py). Killing PID 1 ends everything the student
started. An exit is reported as its code, a death by signal S as 128 + S.

No student code ever runs in the zygote, and no worker can reach it: every control connection
is closed in every child, and a worker cannot see the zygote's PID namespace.
"""

import gc
import importlib
import json
import os
import resource
import select
import signal
import socket
import sys
import time

from . import guard, namespaces, plain, serve, wire  # noqa: F401  (loaded once, for every worker)

SANDBOX = "/sandbox"
_MAX_CONTROL_BYTES = 1 << 16


def _exit_code(status):
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _close_all_but(keep):
    for fd in sorted(set(range(3, _open_fd_limit())) - set(keep)):
        try:
            os.close(fd)
        except OSError:
            pass


def _open_fd_limit():
    try:
        return max(int(fd) for fd in os.listdir("/proc/self/fd")) + 1
    except (OSError, ValueError):
        return 1024


def _copy(source_fd, target):
    with os.fdopen(source_fd, "rb") as source, open(target, "wb") as copy:
        while chunk := source.read(1 << 20):
            copy.write(chunk)
    os.chmod(target, 0o444)


def _run_worker(request, fds, scratch):
    """The worker proper: stage the files, confine itself, then serve (never returns)."""
    request_fd, reply_fd, output_fd, student_fd, scenarios_fd = fds
    os.chdir(scratch)
    _copy(student_fd, os.path.join(scratch, f"{request['module']}.py"))
    _copy(scenarios_fd, os.path.join(scratch, f"{request['scenarios']}.py"))
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    _close_all_but({request_fd, reply_fd})
    os.environ.clear()
    os.environ.update(request["environment"])
    sys.dont_write_bytecode = True      # python -E ignores PYTHONDONTWRITEBYTECODE
    sys.path[:] = [scratch] + [entry for entry in sys.path if entry not in ("", ".", SANDBOX, scratch)]
    for name, value in request["rlimits"].items():
        limit = getattr(resource, name)
        resource.setrlimit(limit, (value, value))
    namespaces.drop_privileges(request["uid"])
    code = 0
    try:
        serve.serve(request_fd, reply_fd)
    except SystemExit as exit_request:
        code = exit_request.code if isinstance(exit_request.code, int) else 1
    except BaseException:
        code = 70
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run_init(request, fds, scratch):
    """PID 1 of the worker's namespace: start the worker, reap, and exit as the worker did.

    Its own session, so that a worker's killpg(0) reaches only its own namespace, never the
    zygote (process groups are not confined by PID namespaces).
    """
    if request["private"]:
        os.setsid()
        namespaces.mount_proc()
    worker = os.fork()
    if worker == 0:
        _run_worker(request, fds, scratch)
    for fd in fds:
        os.close(fd)
    while True:
        pid, status = os.wait()
        if pid == worker:
            os._exit(_exit_code(status))


def _run_holder(request, fds, pid_write):
    """Enter the new namespaces, mount the private folders, start PID 1, and wait for it."""
    scratch = SANDBOX
    if request["private"]:
        namespaces.unshare(namespaces.CLONE_NEWNS | namespaces.CLONE_NEWPID | namespaces.CLONE_NEWIPC)
        namespaces.make_mounts_private()
        namespaces.mount_tmpfs_keeping("/tmp", request["scratch_bytes"], request.get("keep_under_tmp", ()))
        namespaces.mount_tmpfs(SANDBOX, request["scratch_bytes"])
    else:
        os.setsid()
        scratch = request["host_scratch"]
    init = os.fork()
    if init == 0:
        os.close(pid_write)
        _run_init(request, fds, scratch)
    os.write(pid_write, str(init).encode())
    os.close(pid_write)
    for fd in fds:
        os.close(fd)
    _, status = os.waitpid(init, 0)
    os._exit(_exit_code(status))


class Zygote:
    def __init__(self, control):
        self.control = control
        self.connections = {control.fileno(): control}
        self.owners = {}         # worker id -> the fd of the connection that spawned it
        self.workers = {}        # id -> (holder pid, init pid)
        self.groups = {}         # id -> the holder's process group, until killed
        self.exits = {}          # id -> exit code, once reaped
        self.waiting = []        # (connection fd, seq, worker id, deadline): waits not yet answered
        self._ids = 0
        self.closed = False

    def spawn(self, request, fds, owner):
        if request.get("refuse"):
            guard.refusal_targets(tuple(request["refuse"]))
        pid_read, pid_write = os.pipe()
        holder = os.fork()
        if holder == 0:
            try:
                os.close(pid_read)
                _close_all_but(set(fds) | {pid_write})
                _run_holder(request, fds, pid_write)
            except BaseException as error:
                os.write(2, f"zygote: worker set-up failed: {error!r}\n".encode())
            os._exit(71)
        os.close(pid_write)
        for fd in fds:
            os.close(fd)
        with os.fdopen(pid_read, "rb") as pipe:
            text = pipe.read().decode()
        self._ids += 1
        self.workers[self._ids] = (holder, int(text) if text else None)
        self.groups[self._ids] = holder
        self.owners[self._ids] = owner
        return {"id": self._ids}

    def _own(self, worker_id, owner):
        if self.owners.get(worker_id) != owner:
            raise ValueError(f"no worker {worker_id} on this connection")
        return worker_id

    def _reap(self, worker_id, block):
        if worker_id in self.exits:
            return self.exits[worker_id]
        holder, _ = self.workers[worker_id]
        pid, status = os.waitpid(holder, 0 if block else os.WNOHANG)
        if pid == 0:
            return None
        self.exits[worker_id] = _exit_code(status)
        del self.workers[worker_id]
        return self.exits[worker_id]

    def kill(self, worker_id):
        for target in self.workers.get(worker_id, ()):
            if target is not None:
                try:
                    os.kill(target, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        group = self.groups.pop(worker_id, None)
        if group is not None:
            try:
                os.killpg(group, signal.SIGKILL)   # without namespaces: the holder's session
            except (ProcessLookupError, PermissionError):
                pass
        return self._reap(worker_id, block=True)

    def reset(self, owner):
        """Kill and forget every worker of one connection; returns how many still ran."""
        mine = [worker_id for worker_id, fd in self.owners.items() if fd == owner]
        live = sum(worker_id in self.workers for worker_id in mine)
        for worker_id in mine:
            self.kill(worker_id)
            self.exits.pop(worker_id, None)
            del self.owners[worker_id]
        self.waiting = [entry for entry in self.waiting if entry[0] != owner]
        return live

    def handle(self, request, fds, owner):
        """The answer to one request, or None when it comes later (a wait)."""
        op = request["op"]
        if op == "connect":
            if len(fds) != 1:
                raise ValueError("connect takes one socket")
            connection = socket.socket(fileno=fds[0])
            self.connections[connection.fileno()] = connection
            return {}
        if op == "spawn":
            return self.spawn(request, fds, owner)
        if op == "poll":
            return {"exit": self._reap(self._own(request["id"], owner), block=False)}
        if op == "wait":
            worker_id = self._own(request["id"], owner)
            if (code := self._reap(worker_id, block=False)) is not None:
                return {"exit": code}
            self.waiting.append((owner, request.get("seq"), worker_id, time.monotonic() + request["seconds"]))
            return None
        if op == "kill":
            return {"exit": self.kill(self._own(request["id"], owner))}
        if op == "reset":
            return {"killed": self.reset(owner)}
        if op == "resolve":
            errors = {}
            for name in request["names"]:
                try:
                    guard.resolve(name)
                except (ValueError, ImportError) as error:
                    errors[name] = str(error)
            return {"errors": errors}
        raise ValueError(f"unknown operation {op!r}")

    def _send(self, fd, reply):
        connection = self.connections.get(fd)
        if connection is None:
            return
        try:
            connection.send(json.dumps(reply).encode())
        except OSError:
            self._disconnect(fd)

    def _disconnect(self, fd):
        connection = self.connections.pop(fd)
        self.reset(fd)
        connection.close()
        self.closed = self.closed or connection is self.control

    def _answer_waits(self):
        now, still = time.monotonic(), []
        for owner, seq, worker_id, deadline in self.waiting:
            code = self._reap(worker_id, block=False)
            if code is None and now < deadline:
                still.append((owner, seq, worker_id, deadline))
            else:
                self._send(owner, {"exit": code, "seq": seq})
        self.waiting = still

    def _serve_one(self, fd):
        """Read and answer one request on a connection (or close it, at its end)."""
        connection = self.connections[fd]
        try:
            data, fds, _, _ = socket.recv_fds(connection, _MAX_CONTROL_BYTES, 8)
        except (ConnectionResetError, OSError):
            data, fds = b"", []
        if not data:
            self._disconnect(fd)
            return
        request = json.loads(data)
        try:
            reply = self.handle(request, fds, fd)
        except Exception as error:
            for received in fds:
                try:
                    os.close(received)
                except OSError:
                    pass
            reply = {"error": f"{type(error).__name__}: {error}"}
        if reply is not None:
            reply["seq"] = request.get("seq")
            self._send(fd, reply)

    def serve(self):
        """Answer requests until the first connection closes."""
        while not self.closed:
            timeout = 0.005 if self.waiting else None
            ready, _, _ = select.select(list(self.connections), [], [], timeout)
            for fd in ready:
                if fd in self.connections and not self.closed:
                    self._serve_one(fd)
            self._answer_waits()


# Libraries the exercises' student code uses besides torch, imported once here rather than in
# every worker (torchvision's transforms alone take one to two seconds); skipped if not installed.
STUDENT_LIBRARIES = ("torchvision.transforms.v2",)


def _import_student_libraries():
    for name in STUDENT_LIBRARIES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def main(control_fd):
    control = socket.socket(fileno=control_fd)
    _import_student_libraries()
    # The guard's dispatch and function modes import much of torch on first use (about two
    # seconds): a guard that is never installed and whose patterns match nothing pays it here.
    nothing = ("_kit_warm_up_matches_nothing",)
    serve.warm_up(guard.ForbiddenApiGuard(nothing, (), (), nothing))
    gc.freeze()     # torch's objects stay: a worker's garbage collections neither walk nor copy them
    control.send(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    Zygote(control).serve()
