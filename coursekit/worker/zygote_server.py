"""The zygote's server: a process with torch loaded that forks a confined worker for each exercise.

Python and torch take seconds to start; a fork takes milliseconds. The zygote imports torch and
this package once, warms torch up (one thread, CPU only, so forking stays safe), and then serves
requests from the grader on control connections (one JSON message each, file descriptors
alongside):

    {"op": "connect", "seq"}   with descriptors [socket]      -> {"seq"}
        a further connection, served like the first: each grading process that shares this
        zygote gets its own, so that answers never cross
    {"op": "spawn", "seq", **SpawnRequest fields (spawn.py)}
        with descriptors in spawn.SPAWN_DESCRIPTORS' order                -> {"seq", "id"}
        the operator patterns the worker will refuse ("refuse", guard.py): the zygote finds
        their targets once and every later worker inherits them
    {"op": "poll", "seq", "id"}                -> {"seq", "exit": code or None}
    {"op": "wait", "seq", "id", "seconds"}     -> {"seq", "exit": code or None}   (answered later)
    {"op": "kill", "seq", "id"}                -> {"seq", "exit": code}   (kills, then reaps)
    {"op": "reset", "seq"}                     -> {"seq", "killed": n}   (this connection's workers)
    {"op": "resolve", "seq", "names": [...]}   -> {"seq", "errors": {name: why}}
        which dotted names (course.yml's forbidden classes) name nothing here, where the student
        libraries are imported already

A connection names only the workers it spawned. When one closes, its workers are killed; when
the first one closes, the zygote exits.

Each worker is three processes (spawned.py): a holder that enters the worker's namespaces, PID 1
of them, and the worker proper, which drops every privilege before it reads student code.

No student code ever runs in the zygote, and no worker can reach it: every control connection
is closed in every child, and a worker cannot see the zygote's PID namespace.
"""

import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import time

from . import guard, landlock, namespaces, plain, serve, spawned, syscall_filter, wire  # noqa: F401  (loaded once)
from .spawn import SPAWN_DESCRIPTORS, SpawnRequest

_MAX_CONTROL_BYTES = 1 << 16


class ZygoteServer:
    """Serves the grader's control connections (the protocol above) until the first one closes."""

    def __init__(self, control):
        self.control = control
        self.connections = {control.fileno(): control}
        self.owners = {}         # worker id -> the fd of the connection that spawned it
        self.workers = {}        # id -> (holder pid, init pid), until reaped
        self.sweeping = set()    # ids whose holder outlives init to kill what the worker left (landlock tier)
        self.groups = {}         # id -> the process group `kill` signals, until killed
        self.exits = {}          # id -> exit code, once reaped
        self.waiting = []        # (connection fd, seq, worker id, deadline): waits not yet answered
        self._ids = 0
        self.closed = False

    def spawn(self, request, fds, owner):
        """Start the worker a SpawnRequest describes, with its descriptors `fds`; returns its id."""
        if len(fds) != len(SPAWN_DESCRIPTORS):
            raise ValueError(f"spawn takes {len(SPAWN_DESCRIPTORS)} descriptors, not {len(fds)}")
        if request.refuse:
            guard.refusal_targets(request.refuse)
        _import_libraries(request.preload)
        pid_read, pid_write = os.pipe()
        holder = os.fork()
        if holder == 0:
            try:
                os.close(pid_read)
                spawned.close_all_but(set(fds) | {pid_write})
                spawned.run_holder(request, fds, pid_write)
            except BaseException as error:
                os.write(2, f"zygote: worker set-up failed: {error!r}\n".encode())
            os._exit(71)
        os.close(pid_write)
        for fd in fds:
            os.close(fd)
        with os.fdopen(pid_read, "rb") as pipe:
            text = pipe.read().decode()
        self._ids += 1
        init = int(text) if text else None
        self.workers[self._ids] = (holder, init)
        if request.tier == "landlock":
            self.sweeping.add(self._ids)
        self.groups[self._ids] = init if request.tier == "landlock" else holder   # init's session, or the holder's
        self.owners[self._ids] = owner
        return {"id": self._ids}

    def _own(self, worker_id, owner):
        if self.owners.get(worker_id) != owner:
            raise ValueError(f"no worker {worker_id} on this connection")
        return worker_id

    def _reap(self, worker_id, block):
        if worker_id in self.exits:
            return self.exits[worker_id]
        pid, status = os.waitpid(self.workers[worker_id][0], 0 if block else os.WNOHANG)
        if pid == 0:
            return None
        self.exits[worker_id] = spawned.exit_code(status)
        del self.workers[worker_id]
        self.sweeping.discard(worker_id)
        return self.exits[worker_id]

    def kill(self, worker_id):
        holder, init = self.workers.get(worker_id, (None, None))
        for target in (init,) if worker_id in self.sweeping else (holder, init):    # a sweeping holder ends itself
            if target is not None:
                try:
                    os.kill(target, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        group = self.groups.pop(worker_id, None)
        if group is not None:
            try:
                os.killpg(group, signal.SIGKILL)   # without namespaces: what the worker started
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
            return self.spawn(SpawnRequest.from_message(request), fds, owner)
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


def _import_libraries(names):
    """Import the libraries a worker's exercise uses besides torch (a spawn request's `preload`), once:
    every later worker inherits them. One that is not installed is skipped: the student's own
    import then reports it."""
    new = [name for name in names if name not in sys.modules]
    for name in new:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    if new:
        gc.freeze()     # as at start: no worker's garbage collection walks or copies them


def main(control_fd):
    control = socket.socket(fileno=control_fd)
    syscall_filter.available()      # loads libseccomp now: a confined worker could not find it
    # The guard's dispatch and function modes import much of torch on first use (about two
    # seconds): a guard that is never installed and whose patterns match nothing pays it here.
    nothing = ("_kit_warm_up_matches_nothing",)
    serve.warm_up(guard.ForbiddenApiGuard(nothing, (), (), nothing))
    gc.freeze()     # torch's objects stay: a worker's garbage collections neither walk nor copy them
    control.send(json.dumps({"ready": True, "pid": os.getpid()}).encode())
    ZygoteServer(control).serve()
