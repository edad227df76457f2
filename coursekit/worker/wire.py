"""Length-prefixed messages of plain data and tensors between the grader and its worker.

A message is an 8-byte big-endian length, then its payload: a 4-byte length, a JSON skeleton,
and the raw bytes of the tensors it holds. Nothing in it is ever executed or unpickled: the
reader builds only None, booleans, numbers, strings, lists, tuples, dicts, torch dtypes and
tensors (from their bytes, after checking that dtype, shape and strides fit them), so a worker
cannot make the grader build anything else.

In the skeleton, JSON's own values stand for themselves (lists for lists); every JSON object is
one tagged value:
    {"tuple": [...]}                 a tuple
    {"dict": [[key, value], ...]}    a dict (keys of any type the skeleton allows)
    {"dtype": "float32"}             a torch.dtype
    {"tensor": [dtype, shape, strides, requires_grad]}   (its bytes: the next ones)
A tensor travels as the span of its storage that it covers (`_span` elements, found from its
shape and strides), so its strides (a transposed, an expanded or a channels-last tensor) arrive
as they were sent.
"""

import json
import math
import os
import select
import struct
import time

import torch

HEADER = struct.Struct(">Q")
_SKELETON = struct.Struct(">I")
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
MAX_SKELETON_BYTES = 8 * 1024 * 1024    # the plain data around the tensors: a reply's is a few KB
_MAX_DEPTH = 64
DTYPES = {str(dtype).removeprefix("torch."): dtype for dtype in (
    torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64, torch.float16, torch.bfloat16,
    torch.float32, torch.float64, torch.complex64, torch.complex128)}


class WireError(Exception):
    """The other side broke the protocol."""


class WireClosed(WireError):
    """The other side closed its end (it exited or crashed)."""


class WireTimeout(WireError):
    """No complete message arrived before the deadline."""


def _dtype_name(dtype):
    name = str(dtype).removeprefix("torch.")
    if DTYPES.get(name) is not dtype:
        raise TypeError(f"the wire carries no {dtype} tensors")
    return name


def _span(shape, strides):
    """How many storage elements a tensor of this shape and these (non-negative) strides covers."""
    if math.prod(shape) == 0:
        return 0
    return 1 + sum((size - 1) * stride for size, stride in zip(shape, strides))


def _skeleton(value, buffers, depth=0):
    if depth > _MAX_DEPTH:
        raise TypeError("the message is nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided or value.is_nested:
            raise TypeError(f"the wire carries dense tensors only, not {value.layout} ones")
        requires_grad = bool(value.requires_grad)
        value = value.detach().to("cpu").resolve_conj().resolve_neg()
        covered = value.as_strided((_span(value.shape, value.stride()),), (1,), value.storage_offset()).contiguous()
        buffers.append(covered.view(torch.uint8) if covered.dtype != torch.uint8 else covered)
        return {"tensor": [_dtype_name(value.dtype), list(value.shape), list(value.stride()), requires_grad]}
    if isinstance(value, torch.dtype):
        return {"dtype": _dtype_name(value)}
    if isinstance(value, list):
        return [_skeleton(item, buffers, depth + 1) for item in value]
    if isinstance(value, tuple):          # torch.Size too: a tuple of ints
        return {"tuple": [_skeleton(item, buffers, depth + 1) for item in value]}
    if isinstance(value, dict):
        return {"dict": [[_skeleton(key, buffers, depth + 1), _skeleton(item, buffers, depth + 1)]
                         for key, item in value.items()]}
    raise TypeError(f"the wire carries plain data and tensors only, not {type(value).__name__}")


def encode(message):
    """The bytes of one message (header included). TypeError for what the wire does not carry."""
    buffers = []
    skeleton = json.dumps(_skeleton(message, buffers), separators=(",", ":")).encode()
    payload = [_SKELETON.pack(len(skeleton)), skeleton, *(buffer.numpy().tobytes() for buffer in buffers)]
    size = sum(len(part) for part in payload)
    return HEADER.pack(size) + b"".join(payload)


class _Reader:
    def __init__(self, payload):
        (length,) = _SKELETON.unpack_from(payload)
        if length > MAX_SKELETON_BYTES:
            raise ValueError(f"{length} bytes of plain data, over the {MAX_SKELETON_BYTES}-byte limit")
        self.skeleton = json.loads(payload[_SKELETON.size:_SKELETON.size + length])
        self.data = memoryview(payload)[_SKELETON.size + length:]
        self.position = 0

    def value(self, node, depth=0):
        if depth > _MAX_DEPTH:
            raise ValueError("nested too deeply")
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.value(item, depth + 1) for item in node]
        if not isinstance(node, dict) or len(node) != 1:
            raise ValueError("not a tagged value")
        (tag, body), = node.items()
        if tag == "tuple" and isinstance(body, list):
            return tuple(self.value(item, depth + 1) for item in body)
        if tag == "dict" and isinstance(body, list):
            result = {}
            for pair in body:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise ValueError("a dict entry is not a pair")
                key = self.value(pair[0], depth + 1)
                result[key] = self.value(pair[1], depth + 1)       # TypeError if unhashable
            return result
        if tag == "dtype" and body in DTYPES:
            return DTYPES[body]
        if tag == "tensor" and isinstance(body, list) and len(body) == 4:
            return self.tensor(*body)
        raise ValueError(f"unknown tag {tag!r}")

    def tensor(self, dtype_name, shape, strides, requires_grad):
        dtype = DTYPES.get(dtype_name) if isinstance(dtype_name, str) else None
        if (dtype is None or not isinstance(shape, list) or not isinstance(strides, list)
                or len(shape) != len(strides) or not all(type(n) is int and n >= 0 for n in (*shape, *strides))
                or not isinstance(requires_grad, bool)):
            raise ValueError("a malformed tensor")
        size = _span(shape, strides) * dtype.itemsize
        if self.position + size > len(self.data):
            raise ValueError("a tensor's data is cut short")
        chunk = self.data[self.position:self.position + size]
        self.position += size
        storage = torch.frombuffer(bytearray(chunk), dtype=dtype) if size else torch.empty(0, dtype=dtype)
        tensor = storage.as_strided(shape, strides)
        return tensor.requires_grad_() if requires_grad else tensor


def decode(payload):
    try:
        reader = _Reader(payload)
        message = reader.value(reader.skeleton)
        if reader.position != len(reader.data):
            raise ValueError("bytes left over after the last tensor")
        return message
    except Exception as error:  # not a message this module wrote
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
