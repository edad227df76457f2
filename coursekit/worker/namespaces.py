"""Linux namespaces, mounts and capabilities, through libc: what gives each worker a sandbox of its own.

The zygote (zygote.py) runs inside bubblewrap's sandbox with the capabilities it needs to build
more: for every worker it forks a child that enters fresh mount, PID and IPC namespaces, mounts
private size-capped tmpfs folders, and then gives every capability up before student code runs.
"""

import ctypes
import os

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_REMOUNT, _MS_BIND = 0x1, 0x2, 0x4, 0x20, 0x1000
_MS_REC, _MS_PRIVATE = 0x4000, 0x40000
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"{what}: {os.strerror(error)}")


def prctl(option, value):
    _check(_libc.prctl(option, value, 0, 0, 0), f"prctl({option})")


def unshare(flags):
    _check(_libc.unshare(flags), "unshare")


def make_mounts_private():
    """Mounts made from here on stay in this mount namespace."""
    _check(_libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")


def mount_tmpfs(target, size_bytes, mode="1777"):
    options = f"size={size_bytes},mode={mode}".encode()
    _check(_libc.mount(b"tmpfs", target.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV, options),
           f"mount tmpfs on {target}")


def mount_tmpfs_keeping(target, size_bytes, kept):
    """A fresh tmpfs on `target`, with the folders `kept` (under it) still there, read-only.

    Each kept folder is opened before the tmpfs hides it and bound back from that descriptor:
    a Python environment under /tmp stays usable in a worker whose /tmp is private.
    """
    handles = [(folder, os.open(folder, os.O_PATH | os.O_DIRECTORY)) for folder in kept]
    mount_tmpfs(target, size_bytes)
    for folder, handle in handles:
        os.makedirs(folder, mode=0o755, exist_ok=True)
        _check(_libc.mount(f"/proc/self/fd/{handle}".encode(), folder.encode(), None, _MS_BIND | _MS_REC, None),
               f"bind {folder}")
        read_only = _MS_REMOUNT | _MS_BIND | _MS_RDONLY | _MS_NOSUID | _MS_NODEV   # a user namespace keeps the last two
        _check(_libc.mount(None, folder.encode(), None, read_only, None), f"make {folder} read-only")
        os.close(handle)


def mount_proc():
    """A /proc that shows this PID namespace only."""
    _check(_libc.mount(b"proc", b"/proc", b"proc", _MS_NOSUID | _MS_NODEV, None), "mount proc")


def capabilities():
    """{"CapEff": int, "CapPrm": int, ...} from /proc/self/status."""
    found = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Cap"):
                name, value = line.split(":")
                found[name] = int(value, 16)
    return found


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _clear_capabilities():
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")


def drop_privileges(uid=None):
    """Give up every privilege, for good, before any student code runs.

    With `uid` (the grader runs as root): become that unprivileged uid and gid, with no
    supplementary groups. Without (inside a user namespace): keep the uid, clear every capability.
    no_new_privs makes setuid programs powerless for this process and its children.
    """
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "set no_new_privs")
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        if os.getuid() != uid or os.geteuid() != uid:
            raise SystemExit("worker: could not change to an unprivileged uid")
    _clear_capabilities()
    left = capabilities()
    if left.get("CapEff") or left.get("CapPrm") or left.get("CapAmb"):
        raise SystemExit("worker: privileges were not dropped")
