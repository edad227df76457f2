"""The reference solution itself, checked against facts that do not come from it.

The hand-computed values are from shared/FACTS.md (worked by hand, confirmed with PyTorch 2.14);
the rest compares with PyTorch's own layers.
"""

import pytest
import torch
import torch.nn.functional as F

from references import load_reference


@pytest.fixture(scope="module")
def bn():
    return load_reference("batchnorm")


X = torch.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])


def close(got, want, atol=2e-5):
    torch.testing.assert_close(got, torch.as_tensor(want, dtype=got.dtype), atol=atol, rtol=0)


def test_worked_example_forward_and_running_statistics(bn):
    layer = bn.BatchNorm1d(2)
    out = layer(X)
    close(out, [[-1.22474, -1.22474], [0.0, 0.0], [1.22474, 1.22474]])
    close(layer.running_mean, [0.3, 0.6])
    close(layer.running_var, [1.3, 2.5])
    layer.eval()
    close(layer(X)[:, 0], [0.61394, 2.36805, 4.12216])


def test_worked_example_gradients(bn):
    grad_x, grad_weight, grad_bias = bn.batch_norm_backward(torch.tensor([[1.0, 0], [0, 0], [0, 2]]), X, torch.ones(2))
    close(grad_x[:, 0], [0.102063, -0.204124, 0.102061])
    close(grad_weight, [-1.22474, 2.44949])
    close(grad_bias, [1.0, 2.0])


def test_cumulative_average_with_momentum_none(bn):
    layer = bn.BatchNorm1d(2, momentum=None)
    layer(X)
    layer(2 * X)
    close(layer.running_mean, [4.5, 9.0])
    close(layer.running_var, [10.0, 40.0])


def test_one_value_per_channel_is_refused_like_pytorch(bn):
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(torch.ones(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        bn.batch_norm(torch.ones(1, 3), None, None, training=True)


@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5), (4, 3, 2, 5)])
def test_function_passes_gradcheck_in_float64(bn, shape):
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    weight = torch.rand(shape[1], dtype=torch.float64, requires_grad=True)
    bias = torch.randn(shape[1], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(bn.BatchNormFunction.apply, (x, weight, bias, 1e-5))


def test_modules_match_torch_repr_and_state_dict(bn):
    for ours, theirs in [(bn.BatchNorm1d(4, momentum=None), torch.nn.BatchNorm1d(4, momentum=None)),
                         (bn.BatchNorm2d(4, affine=False), torch.nn.BatchNorm2d(4, affine=False))]:
        assert repr(ours) == repr(theirs)
        assert list(ours.state_dict()) == list(theirs.state_dict())
