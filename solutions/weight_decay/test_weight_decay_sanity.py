"""Public sanity checks for weight_decay.py: run `pytest` in this folder.

They check your code against the rules of L1 and L2 regularization, hand-computed values on small
inputs and PyTorch's own SGD. Passing them is a good sign, not a grade: the hidden graders check
many more cases (other shapes, values, seeds, models and edge cases) and run the experiment of the
notebook.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import weight_decay

torch.manual_seed(0)

W = torch.tensor([[1.0, -2.0], [0.5, 0.0]])
B = torch.tensor([3.0, -1.0])


def small_regression(seed, n=20, d=8):
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=generator)
    return X, 0.5 + X @ torch.linspace(-1, 1, d) + 0.1 * torch.randn(n, generator=generator)


def test_penalties_by_hand():
    # squares: 1 + 4 + 0.25 + 0 + 9 + 1 = 15.25; absolute values: 1 + 2 + 0.5 + 0 + 3 + 1 = 7.5
    l2, l1 = weight_decay.l2_penalty([W, B], 0.2), weight_decay.l1_penalty([W, B], 0.2)
    for penalty in (l2, l1):
        assert isinstance(penalty, torch.Tensor) and penalty.shape == ()
    assert l2.item() == pytest.approx(0.2 / 2 * 15.25)
    assert l1.item() == pytest.approx(0.2 * 7.5)
    for penalty in (weight_decay.l2_penalty, weight_decay.l1_penalty):
        empty = penalty([], 0.2)
        assert isinstance(empty, torch.Tensor) and empty.shape == () and empty.item() == 0.0
    model = nn.Linear(3, 2)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(-2.0)
    assert weight_decay.l2_penalty(model.parameters(), 1.0).item() == pytest.approx(7.0)
    assert weight_decay.l1_penalty(model.parameters(), 0.5).item() == pytest.approx(5.0)


def test_penalty_gradients_are_lam_w_and_lam_sign_w():
    w = W.clone().requires_grad_()
    weight_decay.l2_penalty([w], 0.3).backward()
    torch.testing.assert_close(w.grad, 0.3 * W)
    w.grad = None
    weight_decay.l1_penalty([w], 0.3).backward()
    torch.testing.assert_close(w.grad, 0.3 * torch.sign(W))     # 0 where w is 0


def test_sgd_step_matches_torch_sgd_in_place():
    X, y = torch.randn(16, 4), torch.randn(16, 1)
    ours, theirs = nn.Linear(4, 1), nn.Linear(4, 1)
    theirs.load_state_dict(ours.state_dict())
    weight = ours.weight
    optimizer = torch.optim.SGD(theirs.parameters(), lr=0.05, momentum=0, weight_decay=0.3)
    for _ in range(4):
        ours.zero_grad()
        F.mse_loss(ours(X), y).backward()
        assert weight_decay.sgd_step(ours.parameters(), 0.05, weight_decay=0.3) is None
        optimizer.zero_grad()
        F.mse_loss(theirs(X), y).backward()
        optimizer.step()
    assert ours.weight is weight, "update the parameters in place"
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b)
        assert a.is_leaf and a.grad_fn is None and a.requires_grad


def test_sgd_step_skips_parameters_without_gradient():
    layer = nn.Linear(3, 3)
    layer.weight.sum().backward()
    weight, bias = layer.weight.detach().clone(), layer.bias.detach().clone()
    weight_decay.sgd_step(layer.parameters(), 0.1, weight_decay=0.5)
    torch.testing.assert_close(layer.weight.detach(), weight - 0.1 * (1 + 0.5 * weight))
    assert torch.equal(layer.bias.detach(), bias)


def test_l2_penalty_with_plain_sgd_step_is_weight_decay():
    X, y = torch.randn(16, 4), torch.randn(16, 1)
    ours, theirs = nn.Linear(4, 1), nn.Linear(4, 1)
    theirs.load_state_dict(ours.state_dict())
    optimizer = torch.optim.SGD(theirs.parameters(), lr=0.1, weight_decay=0.5)
    for _ in range(3):
        ours.zero_grad()
        (F.mse_loss(ours(X), y) + weight_decay.l2_penalty(ours.parameters(), 0.5)).backward()
        weight_decay.sgd_step(ours.parameters(), 0.1)
        optimizer.zero_grad()
        F.mse_loss(theirs(X), y).backward()
        optimizer.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b)


def test_param_groups_cover_every_parameter_once_with_biases_at_zero():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(16, 5),
                          nn.LayerNorm(5))
    groups = weight_decay.decay_param_groups(model, 0.01)
    seen = [id(p) for group in groups for p in group["params"]]
    assert sorted(seen) == sorted(id(p) for p in model.parameters()), "each parameter exactly once"
    decay_of = {id(p): group["weight_decay"] for group in groups for p in group["params"]}
    for name, tensor in model.named_parameters():
        assert decay_of[id(tensor)] == (0.01 if name in ("0.weight", "3.weight") else 0.0), name
    torch.optim.SGD(groups, lr=0.1)      # accepted as they are


def test_sweep_returns_one_result_per_value_in_order():
    train, val = small_regression(1), small_regression(2)
    decays = [0.0, 1.0, 0.1]
    results = weight_decay.sweep_weight_decay(train, val, decays, epochs=10, seed=0)
    assert [result["weight_decay"] for result in results] == decays
    for result in results:
        assert set(result) == {"weight_decay", "train_loss", "val_loss", "weight_norm"}
        assert all(isinstance(value, float) for value in result.values())
    assert results[1]["weight_norm"] < results[2]["weight_norm"] < results[0]["weight_norm"]
    alone = weight_decay.sweep_weight_decay(train, val, [1.0], epochs=10, seed=0)
    assert alone == results[1:2], "every value starts from the same weights, sees the same batches"
    swapped = weight_decay.sweep_weight_decay(train, val, decays[::-1], epochs=10, seed=0)
    assert swapped[::-1] == results


def test_sweep_decays_the_weight_but_not_the_bias():
    generator = torch.Generator().manual_seed(3)
    X = torch.randn(20, 5, generator=generator)
    y = 3.0 + 0.1 * X.sum(dim=1)                   # the bias must learn the 3
    plain, decayed = weight_decay.sweep_weight_decay((X, y), (X, y), [0.0, 10.0])
    assert decayed["weight_norm"] < plain["weight_norm"]
    assert decayed["train_loss"] < 0.5, "a decayed bias could not reach 3"


def test_best_weight_decay_picks_the_lowest_validation_loss():
    results = [{"weight_decay": 0.0, "train_loss": 1e-6, "val_loss": 0.30, "weight_norm": 0.50},
               {"weight_decay": 0.3, "train_loss": 1e-4, "val_loss": 0.02, "weight_norm": 0.10},
               {"weight_decay": 3.0, "train_loss": 1e-2, "val_loss": 0.04, "weight_norm": 0.03}]
    assert weight_decay.best_weight_decay(results) == 0.3
    assert weight_decay.best_weight_decay(results[::-1]) == 0.3
