"""Public sanity checks for dropout.py: run `pytest` in this folder.

They check your code against the rules of dropout and hand-computed values on small inputs.
Passing them is a good sign, not a grade: the hidden graders check many more cases (other shapes,
dtypes, seeds, modes and edge cases) and run the experiment of the notebook.
"""

import math

import torch
from torch import nn

import dropout

torch.manual_seed(0)


def positive(*shape, seed):
    """Values in [0.5, 1.5): a zero in the output can only be a dropped element."""
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) + 0.5


def test_worked_example_ones_become_zeros_and_twos():
    torch.manual_seed(0)
    out = dropout.dropout(torch.ones(1000), p=0.5)
    assert out.shape == (1000,) and out.dtype == torch.float32
    assert set(out.tolist()) == {0.0, 2.0}
    assert abs(out.mean().item() - 1.0) < 0.15


def test_eval_mode_and_p_zero_are_identity_and_p_one_gives_zeros():
    x = positive(4, 5, seed=1)
    torch.testing.assert_close(dropout.dropout(x, p=0.5, training=False), x, atol=0, rtol=0)
    torch.testing.assert_close(dropout.dropout(x, p=0.0), x, atol=0, rtol=0)
    torch.testing.assert_close(dropout.dropout(x, p=1.0), torch.zeros_like(x), atol=0, rtol=0)


def test_zero_fraction_is_p_and_survivors_and_gradient_are_scaled():
    torch.manual_seed(2)
    x = positive(200, 500, seed=2)
    x_before = x.clone()
    for p in (0.2, 0.7):
        out = dropout.dropout(x, p=p)
        kept = out != 0
        assert abs((~kept).float().mean().item() - p) < 0.01
        torch.testing.assert_close(out[kept], x[kept] / (1 - p))
    assert torch.equal(x, x_before), "dropout must not modify its input"

    x = positive(16, 32, seed=3).requires_grad_()
    out = dropout.dropout(x, p=0.25)
    out.sum().backward()
    torch.testing.assert_close(x.grad, (out != 0).float() / 0.75)


def test_fresh_mask_on_every_call_and_seeded_generators_repeat():
    x = positive(32, 64, seed=4)
    torch.manual_seed(4)
    assert not torch.equal(dropout.dropout(x), dropout.dropout(x)), "every call draws a new mask"
    first = dropout.dropout(x, generator=torch.Generator().manual_seed(5))
    torch.manual_seed(99)
    second = dropout.dropout(x, generator=torch.Generator().manual_seed(5))
    assert torch.equal(first, second), "generators seeded alike must give the same mask"


def test_dropout2d_zeroes_whole_channels():
    torch.manual_seed(6)
    for shape in [(16, 8, 3, 4), (40, 5, 5)]:      # (N, C, H, W), and (C, H, W) as one sample
        x = positive(*shape, seed=6)
        out = dropout.dropout2d(x, p=0.5)
        assert out.shape == x.shape
        zeroed = (out == 0).flatten(-2).all(dim=-1)
        kept = (out != 0).flatten(-2).all(dim=-1)
        assert (zeroed | kept).all(), "each channel must be zeroed or kept as a whole"
        assert zeroed.any() and kept.any()
        torch.testing.assert_close(out[kept], x[kept] * 2)
    torch.testing.assert_close(dropout.dropout2d(x, p=0.5, training=False), x, atol=0, rtol=0)


def test_dropout_module_drops_in_training_mode_only():
    torch.manual_seed(7)
    layer = dropout.Dropout(0.5)
    assert layer.training and list(layer.parameters()) == []
    x = positive(64, 64, seed=7)
    assert abs((layer(x) == 0).float().mean().item() - 0.5) < 0.05
    layer.eval()
    torch.testing.assert_close(layer(x), x, atol=0, rtol=0)


def test_mlp_layer_order_and_output_shape():
    model = dropout.MLP(64, 32, 10, p=0.3)
    called = []
    for module in model.modules():
        if not list(module.children()):
            module.register_forward_hook(lambda module, inputs, output: called.append(module))
    x = torch.randn(8, 64)
    assert model(x).shape == (8, 10)
    names = [type(module).__name__ for module in called]
    assert names == ["Linear", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert all(isinstance(module, dropout.Dropout) and module.p == 0.3
               for module in called if type(module).__name__ == "Dropout"), "use your own Dropout"
    assert [(module.in_features, module.out_features) for module in called
            if isinstance(module, nn.Linear)] == [(64, 32), (32, 32), (32, 10)]
    model.eval()
    assert torch.equal(model(x), model(x)), "no dropout in eval mode"


class FixedLogits(nn.Module):
    """Known logits in eval mode, their negation in training mode; records autograd's state."""

    def __init__(self):
        super().__init__()
        self.logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0],
                                    [2.0, 0.0, 0.0]])
        self.offset = nn.Parameter(torch.zeros(()))
        self.grad_enabled = []

    def forward(self, x):
        self.grad_enabled.append(torch.is_grad_enabled())
        return (-self.logits if self.training else self.logits) + self.offset


def test_evaluate_measures_in_eval_mode_and_restores_the_mode():
    model, data = FixedLogits(), (torch.zeros(4, 3), torch.tensor([0, 1, 2, 1]))
    result = dropout.evaluate(model, data)
    assert set(result) == {"loss", "accuracy"}
    assert math.isclose(result["accuracy"], 0.75, abs_tol=1e-6)
    assert math.isclose(result["loss"], math.log(1 + 2 * math.exp(-2)) + 0.5, abs_tol=1e-5)
    assert model.grad_enabled and not any(model.grad_enabled), "measure under torch.no_grad()"
    assert model.training, "evaluate must leave a training-mode model in training mode"
    model.eval()
    dropout.evaluate(model, data)
    assert not model.training, "evaluate must leave an eval-mode model in eval mode"


def three_clusters(n, seed):
    generator = torch.Generator().manual_seed(seed)
    centres = torch.tensor([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    labels = torch.randint(0, 3, (n,), generator=generator)
    return centres[labels] + 0.5 * torch.randn(n, 2, generator=generator), labels


def small_network():
    torch.manual_seed(1)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 3))


def test_train_model_history_is_complete_and_repeatable():
    train, val = three_clusters(90, seed=8), three_clusters(30, seed=9)
    history = dropout.train_model(small_network(), train, epochs=5, lr=0.01, seed=0, val_data=val)
    assert set(history) == {"train_loss", "train_acc", "val_loss", "val_acc"}
    assert all(len(values) == 5 and all(isinstance(value, float) for value in values)
               for values in history.values())
    assert history["train_loss"][-1] < history["train_loss"][0]
    again = dropout.train_model(small_network(), train, epochs=5, lr=0.01, seed=0, val_data=val)
    assert again == history, "the same call must give the same history"
    without_val = dropout.train_model(small_network(), train, epochs=2, seed=0)
    assert set(without_val) == {"train_loss", "train_acc"}


def test_compare_dropout_arms_start_alike():
    train, val = three_clusters(60, seed=10), three_clusters(30, seed=11)
    options = dict(hidden_features=16, epochs=2, lr=0.01, seed=0)
    both = dropout.compare_dropout(train, val, ps=(0.0, 0.5), **options)
    assert set(both) == {0.0, 0.5}
    for result in both.values():
        for name in ("train_loss", "val_loss", "train_acc", "val_acc"):
            assert result[name] == result["history"][name][-1]
    swapped = dropout.compare_dropout(train, val, ps=(0.5, 0.0), **options)
    assert swapped[0.0]["history"] == both[0.0]["history"], "each arm starts afresh from the seed"
    assert swapped[0.5]["history"] == both[0.5]["history"], "each arm starts afresh from the seed"
