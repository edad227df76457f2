"""The dropout reference, checked against PyTorch's own dropout and against the lecture's facts.

PyTorch's dropout takes no generator, so masks cannot be compared element by element; what can
be compared is everything else: the values of survivors, the special cases, the errors, and the
networks built from the layers.
"""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from references import load_reference


@pytest.fixture(scope="module")
def do():
    return load_reference("dropout")


def test_lecture_example_ones_become_zeros_and_twos(do):
    out = do.dropout(torch.ones(100, 100), p=0.5)
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert abs(out.mean().item() - 1.0) < 0.06


@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
def test_special_cases_agree_with_pytorch(do, p):
    x = torch.randn(8, 16)
    torch.testing.assert_close(do.dropout(x, p, training=False), F.dropout(x, p, training=False), rtol=0, atol=0)
    if p in (0.0, 1.0):
        torch.testing.assert_close(do.dropout(x, p), F.dropout(x, p), rtol=0, atol=0)


def test_survivors_are_the_values_pytorch_gives_them(do):
    x = torch.rand(64, 64) + 0.5
    ours, theirs = do.dropout(x, 0.3), F.dropout(x, 0.3)
    torch.testing.assert_close(ours[ours != 0], x[ours != 0] / 0.7)
    torch.testing.assert_close(theirs[theirs != 0], x[theirs != 0] / 0.7)


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_invalid_p_is_refused_like_pytorch(do, p):
    with pytest.raises(ValueError) as theirs:
        F.dropout(torch.ones(3), p)
    with pytest.raises(ValueError) as ours:
        do.dropout(torch.ones(3), p)
    assert str(ours.value) == str(theirs.value)


def test_gradient_is_the_scaled_mask(do):
    x = (torch.rand(32, 32) + 0.5).requires_grad_()
    out = do.dropout(x, 0.25)
    out.backward(torch.ones_like(out))
    torch.testing.assert_close(x.grad, (out != 0).float() / 0.75)


def test_dropout2d_zeroes_whole_channels_as_pytorch_does(do):
    x = torch.rand(16, 8, 5, 3) + 0.5
    for out in (do.dropout2d(x, 0.5), F.dropout2d(x, 0.5)):
        kept = out != 0
        assert torch.equal(kept.all(dim=(2, 3)), kept.any(dim=(2, 3)))


def test_module_is_the_identity_in_eval_like_pytorchs(do):
    x = torch.randn(4, 6)
    ours, theirs = do.Dropout(0.2).eval(), nn.Dropout(0.2).eval()
    assert torch.equal(ours(x), theirs(x))
    assert list(ours.parameters()) == list(theirs.parameters()) == []


def test_mlp_in_eval_mode_is_the_torch_network_with_the_same_weights(do):
    torch.manual_seed(0)
    ours = do.MLP(12, 20, 5, p=0.5, num_hidden_layers=2)
    theirs = nn.Sequential(nn.Linear(12, 20), nn.ReLU(), nn.Dropout(0.5),
                           nn.Linear(20, 20), nn.ReLU(), nn.Dropout(0.5), nn.Linear(20, 5))
    theirs.load_state_dict(dict(zip(theirs.state_dict(), ours.state_dict().values())))
    x = torch.randn(7, 12)
    torch.testing.assert_close(ours.eval()(x), theirs.eval()(x))


def test_evaluate_is_cross_entropy_and_accuracy(do):
    model = nn.Linear(4, 3)
    X, y = torch.randn(50, 4), torch.randint(0, 3, (50,))
    with torch.no_grad():
        logits = model(X)
    measured = do.evaluate(model, (X, y))
    assert measured["loss"] == pytest.approx(F.cross_entropy(logits, y).item(), rel=1e-6)
    assert measured["accuracy"] == pytest.approx((logits.argmax(1) == y).float().mean().item())
