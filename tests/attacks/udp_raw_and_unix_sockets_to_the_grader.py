"""Reaches the grader's machine other than by TCP: UDP to a loopback port, an abstract unix socket
the grader's side listens on, and raw sockets."""
import socket as _socket


def _reach_out():
    try:
        with _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM) as udp:
            udp.sendto(b"LEAKED: udp", ("127.0.0.1", KIT["port"]))
    except OSError:
        pass
    try:
        with _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM) as unix:
            unix.connect("\0" + KIT["unix"])
            unix.sendall(b"LEAKED: unix")
    except OSError:
        pass
    for family in (_socket.AF_INET, _socket.AF_PACKET):     # raw packets: they pass any firewall's ports
        try:
            _socket.socket(family, _socket.SOCK_RAW).close()
            _KIT_LEAKS.append(f"opened a raw socket of family {family}")
        except OSError:
            pass


_reach_out()


def batch_norm(*args, **kwargs):
    _reach_out()
    raise RuntimeError("reached out")
