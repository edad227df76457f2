"""What crosses the worker boundary is data only: plain data and tensors, never pickles or objects."""

import io
import json
import math
import os
import pickle
import struct
import time

import pytest
import torch

from coursekit.worker import wire
from coursekit.worker.plain import to_plain


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch /tmp/kit-exploit-ran",))


def round_trip(message):
    return wire.decode(wire.encode(message)[wire.HEADER.size:])


def test_plain_data_and_tensors_round_trip():
    message = {"out": torch.arange(6.0).reshape(2, 3), "names": ["a", "b"], "n": 3, "none": None,
               "dtype": torch.float64, "pair": (1, 2.5), 7: {"nan": math.nan, "big": 2 ** 80, "flag": False}}
    decoded = round_trip(message)
    assert torch.equal(decoded["out"], message["out"]) and decoded["names"] == ["a", "b"]
    assert decoded["dtype"] is torch.float64 and decoded["pair"] == (1, 2.5) and type(decoded["pair"]) is tuple
    assert decoded[7]["big"] == 2 ** 80 and math.isnan(decoded[7]["nan"]) and decoded[7]["flag"] is False
    assert type(decoded["n"]) is int and type(decoded["pair"][1]) is float


@pytest.mark.parametrize("tensor", [
    torch.randn(3, 4, 5).permute(2, 0, 1),
    torch.randn(2, 3, 4, 4).to(memory_format=torch.channels_last),
    torch.randn(3, 1).expand(3, 5),
    torch.arange(20.0)[5:15:2],
    torch.tensor(3),
    torch.zeros(0, 3),
    torch.tensor([True, False]),
    torch.randn(4, dtype=torch.bfloat16),
    torch.randn(2, dtype=torch.complex64).conj(),
    torch.randn(3, dtype=torch.float64, requires_grad=True),
], ids=["transposed", "channels_last", "expanded", "sliced", "0-dim", "empty", "bool", "bfloat16", "conj",
        "requires_grad"])
def test_tensors_arrive_with_their_dtype_shape_strides_and_requires_grad(tensor):
    decoded = round_trip({"x": tensor})["x"]
    assert decoded.dtype == tensor.dtype and decoded.shape == tensor.shape and decoded.stride() == tensor.stride()
    assert torch.equal(decoded.detach(), tensor.detach().resolve_conj())
    assert decoded.requires_grad == tensor.requires_grad


def test_what_is_not_plain_data_is_not_sent():
    for value in (object(), {1, 2}, b"bytes", torch.nn.Linear(2, 2), torch.zeros(2).to_sparse()):
        with pytest.raises(TypeError):
            wire.encode({"value": value})


def tampered(message, edit):
    """The payload of `message` with its JSON skeleton edited (tensor bytes kept)."""
    payload = wire.encode(message)[wire.HEADER.size:]
    (length,) = struct.unpack(">I", payload[:4])
    skeleton = edit(json.loads(payload[4:4 + length]))
    text = json.dumps(skeleton).encode()
    return struct.pack(">I", len(text)) + text + payload[4 + length:]


def _set_tensor_field(index, value):
    def edit(skeleton):
        skeleton["dict"][0][1]["tensor"][index] = value
        return skeleton
    return edit


@pytest.mark.parametrize("payload", [
    tampered({"x": torch.zeros(4)}, _set_tensor_field(1, [5])),              # more elements than sent
    tampered({"x": torch.zeros(4)}, _set_tensor_field(2, [-1])),             # a negative stride
    tampered({"x": torch.zeros(4)}, _set_tensor_field(0, "object")),         # no such dtype
    tampered({"x": torch.zeros(4)}, lambda s: {"pickle": s}),                 # an unknown tag
    tampered({"x": 1}, lambda s: {"dict": [[[1], 2]]}),                       # an unhashable key
    wire.encode({"x": torch.zeros(4)})[wire.HEADER.size:] + b"\0",          # bytes left over
    wire.encode({"x": torch.zeros(4)})[wire.HEADER.size:-1],                # bytes missing
    struct.pack(">I", wire.MAX_SKELETON_BYTES + 1) + b"[" + b"1," * (wire.MAX_SKELETON_BYTES // 2) + b"1]",
], ids=["too many elements", "negative stride", "unknown dtype", "unknown tag", "unhashable key", "left over",
        "cut short", "oversized plain data"])
def test_a_malformed_message_is_refused(payload):
    with pytest.raises(wire.WireError, match="unreadable message"):
        wire.decode(payload)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("payload", [
    pickle.dumps(Exploit()),
    pickle.dumps({"ok": Exploit()}),
], ids=["bare", "nested"])
def test_arbitrary_pickle_is_refused(payload):
    with pytest.raises(wire.WireError, match="unreadable message"):
        wire.decode(payload)
    assert not os.path.exists("/tmp/kit-exploit-ran")


def test_torch_save_of_an_object_is_refused():
    buffer = io.BytesIO()
    torch.save({"model": torch.nn.Linear(2, 2)}, buffer)
    with pytest.raises(wire.WireError):
        wire.decode(buffer.getvalue())


def test_oversized_message_is_refused():
    read_end, write_end = os.pipe()
    os.write(write_end, wire.HEADER.pack(wire.MAX_MESSAGE_BYTES + 1))
    with pytest.raises(wire.WireError, match="over the"):
        wire.read_message(read_end)
    os.close(read_end)
    os.close(write_end)


def test_writing_to_a_reader_that_stopped_reading_ends_at_the_deadline():
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    message = {"x": torch.zeros(256, 1024)}              # 1 MiB, far more than a pipe holds
    with pytest.raises(wire.WireTimeout, match="stopped reading"):
        wire.write_message(write_end, message, deadline=time.monotonic() + 0.5)
    os.close(read_end)
    os.close(write_end)


def test_to_plain_strips_tensor_subclasses_and_marks_unknown_objects():
    class Sneaky(torch.Tensor):
        pass

    value = to_plain({"t": torch.ones(2).as_subclass(Sneaky), "obj": object(), "size": torch.Size([2, 3])})
    assert type(value["t"]) is torch.Tensor
    assert value["obj"] == {"__opaque__": "builtins.object"}
    assert value["size"] == (2, 3)
