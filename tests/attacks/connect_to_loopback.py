"""Connects to the grader machine's loopback listener, over IPv4 and IPv6, at import and in a call."""
import socket as _socket


def _call_home():
    for family, host in ((_socket.AF_INET, "127.0.0.1"), (_socket.AF_INET6, "::1"),
                         (_socket.AF_INET, "localhost")):
        try:
            with _socket.socket(family, _socket.SOCK_STREAM) as connection:
                connection.settimeout(1)
                connection.connect((host, KIT["port"]))
                connection.sendall(b"LEAKED: hello from the sandbox")
        except OSError:
            pass


_call_home()


def batch_norm(*args, **kwargs):
    _call_home()
    raise RuntimeError("called home")
