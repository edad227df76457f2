"""Attaches to the grader's processes with ptrace, reads their memory (process_vm_readv and
/proc/PID/mem) and their environment, looking for the hidden tests' text."""
import ctypes as _ctypes
import os as _os

_libc = _ctypes.CDLL(None, use_errno=True)
_PTRACE_ATTACH, _PTRACE_SEIZE = 16, 0x4206


class _IoVec(_ctypes.Structure):
    _fields_ = [("base", _ctypes.c_void_p), ("length", _ctypes.c_size_t)]


def _heap(pid):
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            if "[heap]" in line:
                start, end = (int(part, 16) for part in line.split()[0].split("-"))
                return start, min(end - start, 1 << 22)
    return None


def _read(pid):
    for request in (_PTRACE_ATTACH, _PTRACE_SEIZE):
        if _libc.ptrace(request, pid, None, None) == 0:
            _KIT_LEAKS.append(f"ptrace {request} on {pid}")
    try:
        heap = _heap(pid)
    except OSError:
        heap = None
    if heap is not None:
        buffer = _ctypes.create_string_buffer(heap[1])
        local, remote = _IoVec(_ctypes.addressof(buffer), heap[1]), _IoVec(heap[0], heap[1])
        if _libc.process_vm_readv(pid, _ctypes.byref(local), 1, _ctypes.byref(remote), 1, 0) > 0:
            _KIT_LEAKS.append(f"process_vm_readv of {pid}")
        try:
            with open(f"/proc/{pid}/mem", "rb") as memory:
                memory.seek(heap[0])
                if memory.read(4096):
                    _KIT_LEAKS.append(f"/proc/{pid}/mem")
        except (OSError, ValueError, OverflowError):
            pass
    try:
        if open(f"/proc/{pid}/environ", "rb").read():
            _KIT_LEAKS.append(f"/proc/{pid}/environ")
    except OSError:
        pass


for _pid in {*KIT["grader_pids"], _os.getppid()}:
    _read(_pid)
