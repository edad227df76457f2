"""What crosses the worker boundary is data only, and the guard sees forbidden APIs however reached."""

import fnmatch
import io
import json
import math
import os
import pickle
import struct
import time

import pytest
import torch
import torch.nn.functional as F

from coursekit.worker import wire
from coursekit.worker.guard import ForbiddenApiGuard, ForbiddenOperatorError
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


@pytest.fixture
def guard():
    guard = ForbiddenApiGuard(operators=["aten::*batch_norm*", "aten::*layer_norm*"],
                              classes=["torch.nn.modules.batchnorm._NormBase"])
    guard.install()
    yield guard
    guard.uninstall_refusals()    # this process goes on to run other tests


def uses(guard, action):
    guard.hits.clear()
    with guard.watching():
        try:
            action()
        except ForbiddenOperatorError:
            pass
    return set(guard.hits)


x = torch.randn(8, 3)


@pytest.mark.parametrize("action", [
    lambda: F.batch_norm(x, None, None, training=True),
    lambda: torch.batch_norm(x, None, None, None, None, True, 0.1, 1e-5, False),
    lambda: torch.ops.aten.native_batch_norm(x, None, None, None, None, True, 0.1, 1e-5),
    lambda: F.instance_norm(x.reshape(8, 3, 1).expand(8, 3, 4)),
    lambda: F.layer_norm(x, (3,)),
], ids=["functional", "torch", "ops.aten", "instance_norm", "layer_norm"])
def test_forbidden_operators_are_seen_however_reached(guard, action):
    assert any(hit.startswith("operator aten::") for hit in uses(guard, action))


def test_forbidden_operators_are_refused_even_outside_the_python_hooks():
    guard = ForbiddenApiGuard(operators=["aten::*batch_norm*"])
    guard.install()
    try:
        with pytest.raises(ForbiddenOperatorError, match="forbidden operator aten::batch_norm"):
            F.batch_norm(x, None, None, training=True)    # no watching(): the dispatcher still refuses
        assert guard.hits == {"operator aten::batch_norm"}
        assert torch.isfinite(F.group_norm(x.reshape(8, 3, 1), 3)).all()   # other operators still run
    finally:
        guard.uninstall_refusals()
    assert torch.isfinite(F.batch_norm(x, None, None, training=True)).all()


def test_refusal_targets_are_every_matching_overload_at_every_computing_key():
    from coursekit.worker.guard import _computing_keys, refusal_targets
    patterns = ("aten::*dropout*", "aten::*rms_norm*")
    expected = {(name, key) for name in torch._C._dispatch_get_all_op_names() if name.startswith("aten::")
                and any(fnmatch.fnmatchcase(name.split(".", 1)[0], pattern) for pattern in patterns)
                for key in _computing_keys() if torch._C._dispatch_has_kernel_for_dispatch_key(name, key)}
    assert set(refusal_targets(patterns)) == expected
    assert ("aten::native_dropout", "CPU") in expected and not any("add" in name for name, _ in expected)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("action", [
    lambda: torch.ops.aten.native_layer_norm(torch.nested.nested_tensor([torch.randn(3, 4), torch.randn(2, 4)]),
                                             (4,), None, None, 1e-5),
    lambda: torch.quantized_batch_norm(torch.quantize_per_tensor(torch.randn(2, 3, 4, 4), 0.1, 0, torch.quint8),
                                       None, None, torch.zeros(3), torch.ones(3), 1e-5, 0.1, 0),
], ids=["nested tensor", "quantized tensor"])
def test_other_tensor_types_reach_no_real_kernel(guard, action):
    guard.hits.clear()
    with pytest.raises(ForbiddenOperatorError):
        action()                                          # no watching(): the dispatcher refuses
    assert any(hit.startswith("operator aten::") for hit in guard.hits)


def test_building_a_forbidden_class_or_subclass_is_seen(guard):
    class Mine(torch.nn.BatchNorm1d):
        pass

    assert "class torch.nn.modules.batchnorm._NormBase (or a subclass of it)" in uses(guard, lambda: Mine(3))


def test_hand_written_normalisation_is_not_flagged(guard):
    assert uses(guard, lambda: (x - x.mean(0)) / torch.sqrt(x.var(0, correction=0) + 1e-5)) == set()


def test_autograd_inside_a_guarded_function_is_seen():
    import types

    module = types.ModuleType("student")

    def backward_with_autograd(grad_out, x):
        with torch.enable_grad():
            x = x.detach().requires_grad_()
            return torch.autograd.grad((x * x).sum(), x)[0] * grad_out

    def honest_backward(grad_out, x):
        return 2 * x * grad_out

    guard = ForbiddenApiGuard(autograd_in=["cheat", "honest"])
    module.cheat, module.honest = backward_with_autograd, honest_backward
    guard.guard_module(module)
    module.honest(torch.ones(3), torch.ones(3))
    assert guard.hits == set()
    module.cheat(torch.ones(3), torch.ones(3))
    assert any("autograd" in hit and "student.cheat" in hit for hit in guard.hits)


@pytest.fixture(scope="module")
def dropout_guard():
    return ForbiddenApiGuard(functions=["torch.*dropout*", "aten.*dropout*"])


@pytest.mark.parametrize("action", [
    lambda: F.dropout(x, 0.3),
    lambda: torch.nn.Dropout(0.3)(x),
    lambda: torch.dropout(x, 0.3, True),
    lambda: torch._VF.feature_dropout(x.reshape(8, 3, 1), 0.3, True),
    lambda: torch.ops.aten.dropout(x, 0.3, True),
    lambda: torch.ops.aten.native_dropout.default(x, 0.3, True),
], ids=["functional", "module", "torch", "_VF", "ops.aten", "ops.aten.overload"])
def test_forbidden_functions_are_seen_where_the_operator_decomposes(dropout_guard, action):
    """On the CPU dropout reaches the dispatcher as bernoulli_ and mul: only its name gives it away."""
    assert any(hit.startswith("function ") and "dropout" in hit for hit in uses(dropout_guard, action))


def test_hand_written_dropout_is_not_flagged(dropout_guard):
    assert uses(dropout_guard, lambda: x * (torch.rand_like(x) >= 0.3) / 0.7) == set()
    assert uses(dropout_guard, lambda: x * torch.bernoulli(torch.full_like(x, 0.7)) / 0.7) == set()
