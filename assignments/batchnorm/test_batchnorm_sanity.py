"""Public sanity checks for batchnorm.py: run `pytest` in this folder.

They compare your code with PyTorch on small inputs. Passing them is a good sign, not a grade:
the hidden graders check many more cases (other shapes, dtypes, modes and edge cases).
"""

import pytest
import torch
import torch.nn.functional as F

import batchnorm

torch.manual_seed(0)


def test_worked_example_training_output_and_running_stats():
    x = torch.tensor([[1.0, 2.0], [3.0, 6.0], [5.0, 10.0]])
    running_mean, running_var = torch.zeros(2), torch.ones(2)
    out = batchnorm.batch_norm(x, running_mean, running_var, training=True)
    torch.testing.assert_close(out, torch.tensor([[-1.22474, -1.22474], [0.0, 0.0], [1.22474, 1.22474]]),
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(running_mean, torch.tensor([0.3, 0.6]))
    torch.testing.assert_close(running_var, torch.tensor([1.3, 2.5]))


def test_training_output_matches_pytorch_on_4d_input():
    x = torch.randn(8, 3, 4, 5) * 2 + 1
    want = F.batch_norm(x, None, None, training=True)
    torch.testing.assert_close(batchnorm.batch_norm(x, None, None, training=True), want)


def test_eval_uses_running_statistics():
    x = torch.randn(6, 4)
    mean, var = torch.randn(4), torch.rand(4) + 0.5
    want = F.batch_norm(x, mean.clone(), var.clone(), training=False)
    torch.testing.assert_close(batchnorm.batch_norm(x, mean, var, training=False), want)


def test_backward_matches_autograd():
    x = torch.randn(10, 3, requires_grad=True)
    weight = torch.rand(3, requires_grad=True)
    grad_out = torch.randn(10, 3)
    F.batch_norm(x, None, None, weight, None, training=True).backward(grad_out)
    grad_x, grad_weight, _ = batchnorm.batch_norm_backward(grad_out, x.detach(), weight.detach())
    torch.testing.assert_close(grad_x, x.grad)
    torch.testing.assert_close(grad_weight, weight.grad)


def test_batchnorm1d_follows_torch_for_two_steps():
    ours, theirs = batchnorm.BatchNorm1d(4), torch.nn.BatchNorm1d(4)
    for _ in range(2):
        x = torch.randn(16, 4) * 3 - 1
        torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(ours.running_var, theirs.running_var)
    assert list(ours.state_dict()) == list(theirs.state_dict())


def test_one_value_per_channel_raises():
    with pytest.raises(ValueError):
        batchnorm.batch_norm(torch.ones(1, 3), None, None, training=True)
