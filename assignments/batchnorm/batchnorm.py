"""Batch normalization from scratch.

You will write, in this order:

1. ``batch_norm``: the forward pass, the contract of ``torch.nn.functional.batch_norm``.
2. ``batch_norm_backward``: its gradients, derived by hand (no autograd).
3. ``BatchNormFunction``: a ``torch.autograd.Function`` joining the two.
4. ``BatchNorm1d`` / ``BatchNorm2d``: drop-in replacements for ``torch.nn.BatchNorm1d/2d``.
5. ``MLPWithBatchNorm``: the lecture's model, built on your ``BatchNorm1d``.

Shapes: ``N`` is the batch size, ``C`` the number of channels (features), ``*`` any number of
further dimensions (``L`` for sequences, ``H, W`` for images). Statistics are always per channel,
over every dimension except dim 1: ``n = N`` for (N, C), ``n = N * L`` for (N, C, L) and
``n = N * H * W`` for (N, C, H, W).

Rules: do not call PyTorch's own normalisation (``F.batch_norm``, ``torch.batch_norm``,
``nn.BatchNorm*``, layer/group/instance norm...) anywhere in this file, and do not use autograd
inside ``batch_norm_backward``. The grader detects both at run time and gives no credit to the
tests they affect.
"""

import torch
from torch import nn


def _channel_view_shape(x):
    """The shape (1, C, 1, ..., 1) that broadcasts a per-channel vector of length C against x."""
    return (1, x.shape[1]) + (1,) * (x.dim() - 2)


def _reduction_dims(x):
    """Every dimension of x except the channel dimension 1: (0, 2, 3, ...)."""
    return (0,) + tuple(range(2, x.dim()))


def _values_per_channel(x):
    """n, the number of values each channel's statistics are computed over."""
    return x.numel() // x.shape[1]


def batch_norm(x, running_mean, running_var, weight=None, bias=None,
               training=False, momentum=0.1, eps=1e-5):
    """Batch normalization over the channel dimension, like torch.nn.functional.batch_norm.

    Args:
        x: input of shape (N, C, *): statistics are per channel (dim 1), over every other dim.
        running_mean, running_var: shape (C,), or None. When training and not None, they are
            updated in place (and carry no autograd history). In eval they are the statistics.
        weight, bias: gamma and beta, shape (C,), or None (no scaling / no shift).
        training: use the batch's statistics (True) or the running ones (False).
        momentum: weight of the new batch statistic in the running average.
        eps: added to the variance inside the square root, for numerical stability.
    Returns:
        Tensor of the same shape and dtype as x. x itself is never modified.

    Training:  mean = x.mean over dims (0, 2, 3, ...),  var = the biased variance (divide by n)
               x_hat = (x - mean) / sqrt(var + eps);  out = weight * x_hat + bias
               running = (1 - momentum) * running + momentum * batch_stat,
               where the running variance gets the *unbiased* variance (divide by n - 1).
    Eval:      the same normalisation, with running_mean / running_var in place of the batch's.

    Hint: reduce over `_reduction_dims(x)` and reshape per-channel vectors to
    `_channel_view_shape(x)` so broadcasting does the rest. Update the running statistics
    under `torch.no_grad()` with in-place ops (`mul_`, `add_`) so the caller's tensors change.
    """
    if x.dim() < 2:
        raise ValueError(f"expected input of shape (N, C, *), got {x.dim()}-D input")
    if training and _values_per_channel(x) <= 1:
        raise ValueError("Expected more than 1 value per channel when training, "
                         f"got input size {tuple(x.shape)}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("running_mean and running_var must be given in evaluation mode")
    raise NotImplementedError(
        "batchnorm.batch_norm: normalise x with the batch or the running statistics")


def batch_norm_backward(grad_out, x, weight=None, eps=1e-5):
    """Gradients of training-mode batch norm, derived by hand: no autograd allowed here.

    Args:
        grad_out: dL/d(out), same shape as x, (N, C, *).
        x: the forward pass's input, (N, C, *).
        weight: gamma, shape (C,), or None.
        eps: the forward pass's eps.
    Returns:
        (grad_x, grad_weight, grad_bias): grad_x has x's shape; grad_weight and grad_bias have
        shape (C,), and are both None when weight is None.

    Forward, per channel, with n values per channel and every sum over dims (0, 2, 3, ...):
        mean = sum(x) / n,  var = sum((x - mean)^2) / n,  inv_std = 1 / sqrt(var + eps)
        x_hat = (x - mean) * inv_std,  out = weight * x_hat + bias
    The parameters are the easy part:
        grad_bias = sum(grad_out),  grad_weight = sum(grad_out * x_hat)
    For x, walk the graph backwards from g = dL/dx_hat = grad_out * weight (grad_out when
    weight is None). x reaches x_hat three ways: directly, through mean and through var.
        1. dL/dvar  = sum(g * (x - mean)) * (-1/2) * (var + eps)^(-3/2)
        2. dL/dmean = -inv_std * sum(g)   (var's own dependence on mean sums to zero)
        3. grad_x   = g * inv_std + dL/dvar * 2 * (x - mean) / n + dL/dmean / n
    Then simplify: writing step 3 with x_hat gives a short expression with two per-channel sums.

    Hint: recompute mean, var and x_hat exactly as the forward pass did (biased variance), and
    keep the sums with keepdim=True so they broadcast.
    """
    raise NotImplementedError(
        "batchnorm.batch_norm_backward: the analytic gradients of the training-mode output")


class BatchNormFunction(torch.autograd.Function):
    """Training-mode batch norm whose backward pass is your `batch_norm_backward`.

    Use it as ``BatchNormFunction.apply(x, weight, bias, eps)``. bias may be None, and so may
    weight when bias is None too (batch_norm_backward gives no grad_bias without a weight).
    It normalises with the batch statistics; it has no running statistics to update.
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, eps=1e-5):
        """Return batch_norm(x, ...) in training mode, saving what backward needs.

        Hint: `ctx.save_for_backward` accepts None; keep eps on `ctx` as a plain attribute.
        """
        raise NotImplementedError(
            "batchnorm.BatchNormFunction.forward: training-mode output; save what backward needs")

    @staticmethod
    def backward(ctx, grad_out):
        """Return one gradient per forward input: (grad_x, grad_weight, grad_bias, None for eps).

        Hint: an input that needs no gradient (`ctx.needs_input_grad[i]` is False) gets None.
        """
        raise NotImplementedError(
            "batchnorm.BatchNormFunction.backward: gradients from batch_norm_backward")


class BatchNorm(nn.Module):
    """What BatchNorm1d and BatchNorm2d share: parameters, buffers and the forward pass.

    You write this class; BatchNorm1d and BatchNorm2d below only check the input's rank.

    Attributes, exactly as in torch.nn.BatchNorm1d (so state_dicts load both ways), registered
    in the order listed here (so the state_dict's keys come in torch's order):
        weight, bias: nn.Parameter of shape (C,), initialised to ones and zeros;
            both None (registered with `register_parameter(name, None)`) when affine=False.
        running_mean, running_var: buffers of shape (C,), initialised to zeros and ones;
        num_batches_tracked: a 0-d int64 (torch.long) buffer, initialised to 0;
            all three None (registered with `register_buffer(name, None)`) when
            track_running_stats=False.
    device goes to every tensor created, dtype to every floating-point one (num_batches_tracked
    stays long).
    """

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        raise NotImplementedError(
            "batchnorm.BatchNorm.__init__: register the parameters and buffers")

    def _check_input_dim(self, x):
        raise NotImplementedError("each subclass checks its own input rank")

    def forward(self, x):
        """Normalise x (N, C, *) with `batch_norm`, choosing the statistics like PyTorch does.

        - Training with track_running_stats: add 1 to num_batches_tracked, then use the batch
          statistics and update the running ones. The update factor is `momentum`, or, when
          momentum is None, 1 / num_batches_tracked (a cumulative average of all batches).
        - Training without running statistics: batch statistics, nothing updated.
        - Eval: the running statistics, or the batch's when there are none
          (track_running_stats=False).
        """
        self._check_input_dim(x)
        raise NotImplementedError(
            "batchnorm.BatchNorm.forward: choose the statistics and the update factor")

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(BatchNorm):
    """Batch norm over (N, C) or (N, C, L) input: a drop-in for torch.nn.BatchNorm1d."""

    def _check_input_dim(self, x):
        if x.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {x.dim()}D input)")


class BatchNorm2d(BatchNorm):
    """Batch norm over (N, C, H, W) input: a drop-in for torch.nn.BatchNorm2d."""

    def _check_input_dim(self, x):
        if x.dim() != 4:
            raise ValueError(f"expected 4D input (got {x.dim()}D input)")


class MLPWithBatchNorm(nn.Module):
    """The lecture's model: (Linear -> BatchNorm1d -> ReLU) twice, then a Linear classifier.

    Attributes: fc1 = Linear(in_features, hidden_features), bn1 = BatchNorm1d(hidden_features),
    fc2 = Linear(hidden_features, hidden_features), bn2 = BatchNorm1d(hidden_features),
    fc3 = Linear(hidden_features, out_features). Use *your* BatchNorm1d.

    forward: (N, in_features) -> (N, out_features) logits; normalise before the activation.
    """

    def __init__(self, in_features, hidden_features, out_features):
        super().__init__()
        raise NotImplementedError("batchnorm.MLPWithBatchNorm.__init__: the five layers")

    def forward(self, x):
        """(N, in_features) -> (N, out_features) logits."""
        raise NotImplementedError(
            "batchnorm.MLPWithBatchNorm.forward: fc -> bn -> relu, twice, then fc3")
