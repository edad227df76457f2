"""Landlock, the kernel's unprivileged access control, through its three system calls.

A process that calls `restrict()` (after no_new_privs) can from then on, with every child it
starts: read and execute only beneath the `readable` paths, write only beneath `writable`, use
only the `devices` (character devices such as /dev/null), and, by the kernel's Landlock ABI:
    ABI 2  link or rename files across folders only inside what it may write
    ABI 3  truncate files only where it may write
    ABI 4  bind or connect no TCP port
    ABI 5  ioctl only on the listed devices
    ABI 6  signal no process, and reach no abstract unix socket, outside its own Landlock domain
`restrict()` returns the names of the rights this kernel enforced, so the grader can say which.

This is a thin ctypes layer rather than the PyPI `landlock` package because that package handles
filesystem rules only (no TCP rules of ABI 4, no scopes of ABI 6), which are half of what the
sandbox needs here. The structures follow include/uapi/linux/landlock.h.
"""

import ctypes
import os

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446     # the same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_ABI1_FS = (1 << 13) - 1              # execute .. make_sym: the thirteen rights of ABI 1
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_RIGHTS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV   # all a rule on a file may grant
BIND_TCP, CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

READ = EXECUTE | READ_FILE | READ_DIR

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _syscall(number, *args):
    result = _libc.syscall(ctypes.c_long(number), *args)
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, f"landlock: {os.strerror(error)}")
    return result


def abi_version():
    """The kernel's Landlock ABI (1 or more), or 0 where Landlock is missing or switched off."""
    try:
        return _syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except OSError:
        return 0


def handled_rights(abi):
    """(filesystem, network, scopes) that a ruleset handles on a kernel with Landlock `abi`."""
    fs = _ABI1_FS | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0) | (IOCTL_DEV if abi >= 5 else 0)
    net = BIND_TCP | CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    return fs, net, scoped


def enforced(abi):
    """The names of what a `restrict()` on a kernel with Landlock `abi` enforces."""
    names = ["filesystem"] if abi >= 1 else []
    names += ["tcp"] if abi >= 4 else []
    names += ["signals", "abstract unix sockets"] if abi >= 6 else []
    return names


def _allow(ruleset, path, access):
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return              # a path this machine lacks: nothing to allow
    try:
        if not os.path.isdir(path):
            access &= _FILE_RIGHTS
        rule = _PathBeneathAttr(access, fd)
        _syscall(_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(rule),
                 ctypes.c_uint32(0))
    finally:
        os.close(fd)


def restrict(readable, writable, devices=()):
    """Confine this thread (and every process it starts) for good; returns `enforced(abi)`.

    readable: paths beneath which files may be read and executed
    writable: paths beneath which everything is allowed
    devices:  device files that may be read, written and ioctl'd (/dev/null, a GPU's devices)
    Needs no_new_privs (or CAP_SYS_ADMIN). OSError where Landlock is missing.
    """
    abi = abi_version()
    if abi < 1:
        raise OSError("Landlock is not available on this kernel")
    fs, net, scoped = handled_rights(abi)
    attr = _RulesetAttr(fs, net, scoped)
    ruleset = _syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)), ctypes.c_uint32(0))
    try:
        for path in readable:
            _allow(ruleset, path, READ & fs)
        for path in writable:
            _allow(ruleset, path, fs)
        for path in devices:
            _allow(ruleset, path, (READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV) & fs)
        _syscall(_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
    return enforced(abi)
