"""L1 and L2 regularization, weight decay, and choosing its strength.

You will write, in this order:

1. ``l2_penalty`` and ``l1_penalty``: the penalties added to a loss.
2. ``sgd_step``: one step of plain SGD with weight decay, by hand.
3. ``decay_param_groups``: optimizer parameter groups that decay weights but not biases or
   normalisation parameters.
4. ``sweep_weight_decay`` and ``best_weight_decay``: train one linear regression per decay value,
   fairly, and pick the value that generalises best.

Shapes: ``N`` is the number of samples, ``D`` the number of features. A data set is a tuple
``(X, y)`` with ``X`` float32 of shape (N, D) and ``y`` float32 of shape (N,) or (N, 1).

The key fact: adding (lam / 2) * ||w||^2 to the loss adds lam * w to the gradient, which is
exactly what ``torch.optim.SGD(..., weight_decay=lam)`` does. So for SGD, "weight decay" and "L2
regularization" are the same thing (with the factor 1/2 in the penalty); for Adam they are not,
which is why AdamW exists.
"""

import torch
import torch.nn.functional as F
from torch import nn


def l2_penalty(parameters, lam):
    """The L2 penalty (lam / 2) * sum of the squares of every entry of every parameter.

    Args:
        parameters: an iterable of tensors (for example `[model.weight]` or `model.parameters()`).
        lam: the regularization strength (lambda), a float >= 0.
    Returns:
        A 0-dim tensor, differentiable with respect to the parameters: its gradient with respect
        to each parameter w is lam * w. With no parameters, a 0-dim tensor holding 0.

    Formula:   lam / 2 * sum_i ||w_i||^2,   where ||w||^2 = sum of w's squared entries
    Hint: keep everything a tensor (no `.item()`, no `torch.no_grad()`), or the optimizer never
    sees the penalty's gradient. `p.norm()` is the square root of the sum of squares, not the sum.
    """
    parameters = list(parameters)
    raise NotImplementedError(
        "weight_decay.l2_penalty: (lam / 2) * sum of squares, as a differentiable tensor")


def l1_penalty(parameters, lam):
    """The L1 penalty lam * sum of the absolute values of every entry of every parameter.

    Args and Returns: as in `l2_penalty`. Its gradient with respect to w is lam * sign(w) (0
    where w is exactly 0), which pushes small weights all the way to zero: L1 gives sparse weights.

    Formula:   lam * sum_i sum_j |w_ij|
    """
    parameters = list(parameters)
    raise NotImplementedError(
        "weight_decay.l1_penalty: lam * sum of absolute values, as a differentiable tensor")


def sgd_step(parameters, lr, weight_decay=0.0):
    """One step of plain SGD with (L2) weight decay, in place, like torch.optim.SGD with momentum 0.

    Args:
        parameters: an iterable of tensors with `.grad` filled in by `loss.backward()`;
            parameters whose `.grad` is None are skipped.
        lr: the learning rate. weight_decay: lambda, the L2 strength.
    Returns:
        None. Each parameter p changes in place:

            p <- p - lr * (p.grad + weight_decay * p)

    The update must not be recorded by autograd (the parameters are leaves that require grad).
    Hint: `with torch.no_grad():` and an in-place update such as `p.sub_(...)`. Rebinding the
    name (`p = p - ...`) changes nothing outside the loop.
    """
    raise NotImplementedError(
        "weight_decay.sgd_step: p -= lr * (grad + weight_decay * p), in place")


def decay_param_groups(model, weight_decay):
    """Parameter groups for an optimizer: decay the weights, not the biases or norm parameters.

    Args:
        model: any nn.Module.
        weight_decay: the decay for the weights (matrices and convolution kernels).
    Returns:
        A list of dicts, for example
            [{"params": [...], "weight_decay": weight_decay},
             {"params": [...], "weight_decay": 0.0}]
        ready for `torch.optim.SGD(decay_param_groups(model, 1e-4), lr=0.1)`. Every parameter of
        the model appears in exactly one group, exactly once. Every parameter with one dimension
        or none (every bias, BatchNorm's and LayerNorm's weight and bias, a scalar) gets weight
        decay 0.0; all others (matrices, convolution kernels) get `weight_decay`. Every group
        says its "weight_decay" itself, 0.0 included: a group without one would take the
        optimizer's default, which is 0.01 for AdamW.

    Why: decaying a bias or a normalisation scale pulls it towards 0 without reducing the
    model's capacity to overfit, and can hurt (timm and most training recipes exclude them).
    Hint: `model.parameters()` lists each parameter once, recursing into every submodule; `p.ndim`.
    """
    raise NotImplementedError("weight_decay.decay_param_groups: a decayed and an undecayed group")


def _as_column(y):
    """y of shape (N,) or (N, 1), as (N, 1)."""
    return y.reshape(-1, 1)


def sweep_weight_decay(train_data, val_data, weight_decays, *, epochs=100, lr=0.01, batch_size=5,
                       seed=0):
    """Train one linear regression per weight-decay value; report how each fits and generalises.

    Args:
        train_data, val_data: tuples (X, y), X float32 (N, D), y float32 (N,) or (N, 1).
        weight_decays: the values of lambda to try, in any order.
        epochs, lr, batch_size: plain SGD (no momentum) on the mean squared error, `epochs`
            passes over the training set, one step of size lr per mini-batch of batch_size samples.
        seed: fixes the initial weights and the order of the batches.
    Returns:
        A list with one dict per value, in the order of `weight_decays`:
            {"weight_decay": float, "train_loss": float, "val_loss": float, "weight_norm": float}
        train_loss and val_loss are the final model's mean squared errors on each set, without
        any penalty; weight_norm is the L2 norm ||w|| (not squared) of the final weight.

    The model is `nn.Linear(D, 1)`. Decay only its weight, never its bias. A fair sweep changes
    one thing only: every value starts from the *same* initial weights (draw them once, after
    `torch.manual_seed(seed)`, and load a copy into a fresh model for each value) and sees the
    *same* batches: make a fresh `torch.Generator().manual_seed(seed)` for each value, and draw
    from it a new order of the training samples for every epoch
    (`torch.randperm(N, generator=...)`).
    So the result for a value does not depend on which other values are in the list, nor on
    their order. Use your `sgd_step` or torch.optim.SGD; they must agree. Keep lr * weight_decay
    well below 1: every step multiplies the weight by (1 - lr * weight_decay) before the gradient
    moves it.
    """
    X, y = train_data[0], _as_column(train_data[1])
    X_val, y_val = val_data[0], _as_column(val_data[1])
    raise NotImplementedError(
        "weight_decay.sweep_weight_decay: train and measure one fresh model per value")


def best_weight_decay(results):
    """The weight decay whose model has the lowest validation loss.

    Args:
        results: the list `sweep_weight_decay` returns.
    Returns:
        That entry's "weight_decay" (a float); on a tie, the first such entry. Choose by
        validation loss, never by training loss: the training loss always prefers the smallest
        decay.
    """
    raise NotImplementedError(
        "weight_decay.best_weight_decay: pick the entry with the lowest validation loss")
