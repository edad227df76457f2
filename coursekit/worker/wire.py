"""Length-prefixed messages of plain data and tensors between the grader and its worker.

A message is an 8-byte big-endian length, then a `torch.save` payload. It is read back with
`torch.load(weights_only=True)`, whose unpickler accepts only tensors, dtypes, sizes and plain
containers and scalars: a worker cannot make the grader build an arbitrary object.
"""

import io
import os
import select
import struct
import time

import torch

HEADER = struct.Struct(">Q")
MAX_MESSAGE_BYTES = 256 * 1024 * 1024


class WireError(Exception):
    """The other side broke the protocol."""


class WireClosed(WireError):
    """The other side closed its end (it exited or crashed)."""


class WireTimeout(WireError):
    """No complete message arrived before the deadline."""


def encode(message):
    buffer = io.BytesIO()
    torch.save(message, buffer)
    payload = buffer.getvalue()
    return HEADER.pack(len(payload)) + payload


def decode(payload):
    try:
        return torch.load(io.BytesIO(payload), weights_only=True, map_location="cpu")
    except Exception as error:  # the unpickler refused it, or it is not a torch payload
        raise WireError(f"unreadable message ({type(error).__name__}: {str(error)[:200]})") from None


def write_message(fd, message, deadline=None):
    """Write one message to fd. With a deadline, fd must be non-blocking: a reader that stops
    reading (a stopped or stuck worker) then gives WireTimeout instead of blocking forever."""
    data = memoryview(encode(message))
    while data:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                raise WireTimeout(f"the other side stopped reading ({len(data)} bytes unsent)")
        try:
            written = os.write(fd, data)
        except BlockingIOError:
            continue
        data = data[written:]


def _read_exactly(fd, size, deadline):
    chunks, remaining = [], size
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise WireTimeout(f"no reply within the time limit ({remaining} bytes missing)")
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise WireClosed("the other side closed the connection")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_message(fd, deadline=None):
    """Read one message from fd. deadline is a time.monotonic() value, or None to wait forever."""
    (size,) = HEADER.unpack(_read_exactly(fd, HEADER.size, deadline))
    if size > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {size} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
    return decode(_read_exactly(fd, size, deadline))
