"""The weight-decay reference, checked against hand-computed values and torch.optim.SGD."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from coursekit.datasets import sparse_linear_regression

from references import load_reference


@pytest.fixture(scope="module")
def wd():
    return load_reference("weight_decay")


W = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
B = torch.tensor([3.0, -1.0])


def test_penalties_by_hand(wd):
    # squares: 1 + 4 + 0.25 + 0 + 9 + 1 = 15.25; absolute values: 1 + 2 + 0.5 + 0 + 3 + 1 = 7.5
    assert wd.l2_penalty([W, B], 0.2).item() == pytest.approx(0.1 * 15.25)
    assert wd.l1_penalty([W, B], 0.2).item() == pytest.approx(0.2 * 7.5)
    assert wd.l2_penalty([], 0.2).item() == 0.0


def test_penalty_gradients_by_hand(wd):
    w = W.clone().requires_grad_()
    wd.l2_penalty([w], 0.3).backward()
    torch.testing.assert_close(w.grad, 0.3 * W)
    w.grad = None
    wd.l1_penalty([w], 0.3).backward()
    torch.testing.assert_close(w.grad, 0.3 * torch.sign(W))


def test_l2_penalty_plus_plain_sgd_is_torch_sgd_weight_decay(wd):
    torch.manual_seed(0)
    X, y = torch.randn(16, 4), torch.randn(16, 1)
    ours, theirs = nn.Linear(4, 1), nn.Linear(4, 1)
    theirs.load_state_dict(ours.state_dict())
    plain = torch.optim.SGD(ours.parameters(), lr=0.1)
    decayed = torch.optim.SGD(theirs.parameters(), lr=0.1, weight_decay=0.5)
    for _ in range(3):
        plain.zero_grad()
        (F.mse_loss(ours(X), y) + wd.l2_penalty(ours.parameters(), 0.5)).backward()
        plain.step()
        decayed.zero_grad()
        F.mse_loss(theirs(X), y).backward()
        decayed.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b)


def test_sgd_step_is_torch_sgd(wd):
    torch.manual_seed(1)
    X, y = torch.randn(16, 4), torch.randn(16, 1)
    ours, theirs = nn.Linear(4, 1), nn.Linear(4, 1)
    theirs.load_state_dict(ours.state_dict())
    optimizer = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0, weight_decay=0.3)
    for _ in range(4):
        ours.zero_grad()
        F.mse_loss(ours(X), y).backward()
        wd.sgd_step(ours.parameters(), 0.05, 0.3)
        optimizer.zero_grad()
        F.mse_loss(theirs(X), y).backward()
        optimizer.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b)
        assert a.grad_fn is None


def test_param_groups_exclude_biases_and_norm_parameters(wd):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(16, 5), nn.LayerNorm(5))
    groups = wd.decay_param_groups(model, 0.01)
    seen = [id(p) for group in groups for p in group["params"]]
    assert sorted(seen) == sorted(id(p) for p in model.parameters())
    decayed = {id(p) for group in groups if group["weight_decay"] == 0.01 for p in group["params"]}
    assert decayed == {id(model[0].weight), id(model[3].weight)}
    torch.optim.SGD(groups, lr=0.1)      # accepted as they are


def test_sweep_shows_the_lectures_effects(wd):
    decays = [0.0, 0.1, 1.0, 3.0, 10.0]
    results = wd.sweep_weight_decay(*sparse_linear_regression(0), decays, seed=0)
    norms = [r["weight_norm"] for r in results]
    train = [r["train_loss"] for r in results]
    assert norms == sorted(norms, reverse=True) and train == sorted(train)
    assert results[3]["val_loss"] < results[0]["val_loss"]
    assert wd.best_weight_decay(results) in (1.0, 3.0, 10.0)
    reversed_results = wd.sweep_weight_decay(*sparse_linear_regression(0), decays[::-1], seed=0)
    assert reversed_results[::-1] == results
