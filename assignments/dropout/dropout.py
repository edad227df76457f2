"""Dropout from scratch, and a fair experiment with and without it.

You will write, in this order:

1. ``dropout``: inverted dropout on a tensor, the contract of ``torch.nn.functional.dropout``.
2. ``dropout2d``: channel-wise dropout, which zeroes whole feature maps.
3. ``Dropout``: a module that drops in training mode and passes through in eval mode.
4. ``MLP``: the lecture's network, with your ``Dropout`` after every hidden activation.
5. ``evaluate`` and ``train_model``: measure and train a classifier.
6. ``compare_dropout``: train the same network with and without dropout, fairly.

Shapes: ``N`` is the batch size, ``D`` the number of input features, ``K`` the number of classes,
``C, H, W`` the channels, height and width of an image. A data set is a tuple ``(X, y)`` with
``X`` float32 of shape (N, D) and ``y`` int64 class indices of shape (N,).

Rules: do not call PyTorch's own dropout (``F.dropout``, ``F.dropout2d``, ``torch.dropout``,
``nn.Dropout``, ``nn.Dropout2d``, alpha dropout...) anywhere in this file. The grader detects it at
run time and gives no credit to the tests it affects. ``torch.rand``, ``torch.bernoulli`` and plain
arithmetic are what you need.
"""

import torch
import torch.nn.functional as F
from torch import nn


def _check_probability(p):
    """Raise ValueError unless 0 <= p <= 1 (the message PyTorch uses)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def dropout(x, p=0.5, training=True, generator=None):
    """Inverted dropout, like torch.nn.functional.dropout.

    Args:
        x: a floating-point tensor of any shape.
        p: the probability of zeroing each element, 0 <= p <= 1.
        training: drop (True) or pass x through unchanged (False).
        generator: a torch.Generator to draw the mask from; None means torch's global RNG.
    Returns:
        A tensor with x's shape and dtype (x itself is never modified in place):
        each element is zeroed independently with probability p, and every survivor is scaled
        by 1 / (1 - p), so the expected value of each element equals x.

    Special cases: identity (x returned as it is) when not training or p = 0; zeros when p = 1
    (never NaN: do not divide by 1 - p = 0). A fresh mask is drawn on every call.

    Formula:   mask_i ~ Bernoulli(1 - p);   out = x * mask / (1 - p)
    Hint: `torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)` gives
    uniform values in [0, 1); compare them with the keep probability to get the mask. Write
    `x * mask` (not an in-place assignment) so that autograd gives the gradient mask / (1 - p).
    """
    _check_probability(p)
    raise NotImplementedError(
        "dropout.dropout: zero elements with probability p, scale survivors by 1 / (1 - p)")


def dropout2d(x, p=0.5, training=True, generator=None):
    """Channel-wise dropout, like torch.nn.functional.dropout2d: whole feature maps are zeroed.

    Args:
        x: shape (N, C, H, W), or (C, H, W) taken as a single sample. (PyTorch 2.x's own
            F.dropout2d still reads 3-D input as (N, C, L) and warns that this will change;
            here it is already (C, H, W).)
        p, training, generator: as in `dropout`.
    Returns:
        A new tensor of x's shape: each channel of each sample, x[n, c, :, :], is zeroed as a
        whole with probability p, and surviving channels are scaled by 1 / (1 - p).

    Neighbouring pixels of a feature map are strongly correlated, so dropping single pixels
    barely regularises a convolutional network; dropping whole channels does.
    Hint: draw a mask of shape (N, C, 1, 1) (or (C, 1, 1)) and let broadcasting spread it over
    H and W.
    """
    _check_probability(p)
    if x.dim() not in (3, 4):
        raise ValueError(f"dropout2d expects (N, C, H, W) or (C, H, W) input, got {x.dim()}-D")
    raise NotImplementedError(
        "dropout.dropout2d: zero whole channels with probability p and scale the survivors")


class Dropout(nn.Module):
    """Inverted dropout as a layer, a drop-in replacement for torch.nn.Dropout.

    Drops with probability `p` while the module is in training mode (`self.training`, set by
    `model.train()` / `model.eval()`), and is the identity in eval mode. No parameters.
    """

    def __init__(self, p=0.5):
        super().__init__()
        _check_probability(p)
        self.p = p

    def forward(self, x):
        """x: any shape. Returns `dropout(x, self.p)` in training mode, x in eval mode."""
        raise NotImplementedError(
            "dropout.Dropout.forward: apply your dropout only while the module is training")

    def extra_repr(self):
        return f"p={self.p}"


class MLP(nn.Module):
    """A multilayer perceptron with dropout after every hidden activation.

    Layers, in the order the input flows through them:
        [Linear, ReLU, Dropout(p)] * num_hidden_layers, then Linear (the output layer).
    The first Linear maps in_features -> hidden_features, the next ones hidden -> hidden, the
    last hidden -> out_features. Dropout comes after the activation, never after the output
    layer (the logits must not be dropped).

    Use nn.Linear, nn.ReLU and *your* `Dropout`, as modules (for example in one nn.Sequential
    stored as `self.layers`), so the model prints, saves and switches modes like any other.

    Shapes: forward takes (N, in_features) and returns logits of shape (N, out_features).
    """

    def __init__(self, in_features, hidden_features, out_features, p=0.0, num_hidden_layers=2):
        super().__init__()
        if num_hidden_layers < 1:
            raise ValueError(f"num_hidden_layers must be at least 1, got {num_hidden_layers}")
        raise NotImplementedError(
            "dropout.MLP.__init__: build the hidden blocks and the output layer")

    def forward(self, x):
        raise NotImplementedError("dropout.MLP.forward: run the layers in order")


def evaluate(model, data):
    """The model's mean cross-entropy loss and accuracy on a data set, measured in eval mode.

    Args:
        model: a classifier returning logits of shape (N, K).
        data: a tuple (X, y), X float32 (N, D), y int64 (N,).
    Returns:
        {"loss": float, "accuracy": float}, accuracy being the fraction in [0, 1] of samples
        whose largest logit is the true class.

    Measure in eval mode (dropout off) without building an autograd graph, and leave the model
    in the mode it was in: a caller in the middle of training must stay in training mode.
    Hint: remember `model.training` first; `torch.no_grad()`; `model.train(was_training)` last.
    """
    X, y = data
    raise NotImplementedError(
        "dropout.evaluate: measure loss and accuracy in eval mode, then restore the model's mode")


def train_model(model, train_data, *, epochs, lr=1e-3, batch_size=32, seed=0, val_data=None):
    """Train a classifier with Adam and cross-entropy; return its per-epoch history.

    Args:
        model: a classifier returning logits of shape (N, K); trained in place.
        train_data, val_data: tuples (X, y), X float32 (N, D), y int64 (N,); val_data optional.
        epochs: passes over the training data. lr: Adam's learning rate.
        batch_size: mini-batch size (the last batch of an epoch may be smaller).
        seed: makes the run repeatable (see below).
    Returns:
        {"train_loss": [...], "train_acc": [...]} with one float per epoch, and also
        "val_loss", "val_acc" when val_data is given. Every entry is measured after that
        epoch's training with `evaluate`, that is in eval mode on the whole set: not the running
        average of the batch losses, which are taken in training mode with dropout on.

    Randomness: the mini-batches of each epoch come from a fresh random permutation of the
    training set, drawn from a private `torch.Generator().manual_seed(seed)`: so the batches
    depend on `seed` alone, and two models trained with the same seed see the same batches
    whatever else draws random numbers (dropout masks, for instance). Seed torch's global RNG
    with `seed` too (`torch.manual_seed(seed)`), so that the dropout masks repeat as well and
    the same call gives the same result every time.

    Each epoch: model.train(), then for each batch: logits = model(xb);
               loss = cross_entropy(logits, yb); zero the gradients; loss.backward();
               optimizer.step(). Then measure.
    """
    raise NotImplementedError(
        "dropout.train_model: train with Adam on seeded shuffled batches, measuring each epoch")


def compare_dropout(train_data, val_data, ps=(0.0, 0.5), *, hidden_features=256, epochs=100,
                    lr=1e-3, batch_size=32, seed=0):
    """Train one MLP per dropout probability in `ps`, fairly, and report how each generalises.

    Args:
        train_data, val_data: tuples (X, y) as in `train_model`; the number of classes K is
            the largest label in either set, plus 1.
        ps: dropout probabilities, one experiment ("arm") each.
        hidden_features, epochs, lr, batch_size, seed: passed to MLP (two hidden layers) and
            `train_model`.
    Returns:
        {p: {"history": the train_model history with validation entries,
             "train_loss": float, "val_loss": float, "train_acc": float, "val_acc": float}}
        for each p in ps, the four numbers being the history's final (last-epoch) values.

    A fair comparison changes one thing only. Every arm must start from the *same* initial
    weights and see the *same* batches, so build a fresh model for each arm right after
    `torch.manual_seed(seed)` (p does not change how the weights are drawn) and train it with
    the same seed. Never reuse a model trained in an earlier arm.
    """
    raise NotImplementedError(
        "dropout.compare_dropout: train a fresh, identically initialised MLP for every p")
