"""The guard sees forbidden APIs however reached: operators, classes, functions and autograd."""

import fnmatch

import pytest
import torch
import torch.nn.functional as F

from coursekit.worker.guard import ForbiddenApiGuard, ForbiddenOperatorError


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
