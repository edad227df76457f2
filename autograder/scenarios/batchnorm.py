"""Scenarios for the batchnorm graders. They run in the worker, beside the student's module.

Each takes the student's module first, then plain data and tensors from the grader; it calls the
student's code and returns plain data and tensors. No checking happens here: the trusted grader
compares what comes back against PyTorch.

One mistake costs the points of its own task only: a scenario that grades one task (the module,
the autograd Function, the model) runs it with known-good versions of the tasks it builds on
(`batch_norm`, `batch_norm_backward`, `BatchNorm1d`, defined below) put into the student's module
for the duration of the call. The student's methods look those names up in their module's globals
when they run, so they call the known-good versions; a submission that computes everything itself
is graded on its own code.
"""

import torch
from _kit_worker.toolkit import (  # the scenarios' toolkit (coursekit/worker/toolkit.py)
    known_good,
    manual_seed,
    substituted,
)
from torch import nn

# --- known-good versions of the tasks, written without PyTorch's own normalisation --------------

def _reduction_dims(x):
    return (0,) + tuple(range(2, x.dim()))


def _channel_view_shape(x):
    return (1, x.shape[1]) + (1,) * (x.dim() - 2)


@known_good("batch_norm")
def _known_good_batch_norm(x, running_mean, running_var, weight=None, bias=None,
                           training=False, momentum=0.1, eps=1e-5):
    """The contract of torch.nn.functional.batch_norm (the stub's batch_norm docstring)."""
    if x.dim() < 2:
        raise ValueError(f"expected input of shape (N, C, *), got {x.dim()}-D input")
    n = x.numel() // x.shape[1]
    if training and n <= 1:
        raise ValueError("Expected more than 1 value per channel when training, "
                         f"got input size {tuple(x.shape)}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("running_mean and running_var must be given in evaluation mode")
    dims, shape = _reduction_dims(x), _channel_view_shape(x)
    if training:
        mean = x.mean(dim=dims)
        centred = x - mean.reshape(shape)
        var = centred.square().mean(dim=dims)
        if running_mean is not None and running_var is not None:
            with torch.no_grad():
                running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                running_var.mul_(1 - momentum).add_(var.detach() * (n / (n - 1)), alpha=momentum)
    else:
        centred = x - running_mean.reshape(shape)
        var = running_var
    out = centred * torch.rsqrt(var + eps).reshape(shape)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


@known_good("batch_norm_backward")
def _known_good_batch_norm_backward(grad_out, x, weight=None, eps=1e-5):
    """The contract of the stub's batch_norm_backward: the analytic training-mode gradients."""
    dims, n = _reduction_dims(x), x.numel() // x.shape[1]
    centred = x - x.mean(dim=dims, keepdim=True)
    inv_std = torch.rsqrt(centred.square().mean(dim=dims, keepdim=True) + eps)
    x_hat = centred * inv_std
    if weight is None:
        g, grad_weight, grad_bias = grad_out, None, None
    else:
        g = grad_out * weight.reshape(_channel_view_shape(x))
        grad_weight, grad_bias = (grad_out * x_hat).sum(dim=dims), grad_out.sum(dim=dims)
    grad_x = inv_std / n * (n * g - g.sum(dim=dims, keepdim=True)
                            - x_hat * (g * x_hat).sum(dim=dims, keepdim=True))
    return grad_x, grad_weight, grad_bias


@known_good("BatchNorm")
class _KnownGoodBatchNorm1d(nn.Module):
    """The contract of the stub's BatchNorm1d (torch.nn.BatchNorm1d's), on the known-good batch_norm."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None):
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.ones(num_features, **factory)) if affine else None
        self.bias = nn.Parameter(torch.zeros(num_features, **factory)) if affine else None
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **factory))
            self.register_buffer("running_var", torch.ones(num_features, **factory))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def forward(self, x):
        if x.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {x.dim()}D input)")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked)
        return _known_good_batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                      training=self.training or self.running_mean is None,
                                      momentum=factor, eps=self.eps)


def _with_known_good_batch_norm(student):
    return substituted(student, batch_norm=_known_good_batch_norm)


# --- batch_norm ---------------------------------------------------------------------------------

def batch_norm(student, x, running_mean=None, running_var=None, weight=None, bias=None, **options):
    """Call batch_norm once; report the output, the running statistics after it, and x's fate."""
    x_before = x.clone()
    out = student.batch_norm(x, running_mean, running_var, weight, bias, **options)
    return {"out": out, "running_mean": running_mean, "running_var": running_var,
            "x_unchanged": torch.equal(x, x_before)}


def batch_norm_repeated(student, xs, running_mean, running_var, **options):
    """Several successive training calls on the same running statistics; the outputs of each."""
    outs = [student.batch_norm(x, running_mean, running_var, **options) for x in xs]
    return {"outs": outs, "running_mean": running_mean, "running_var": running_var}


def batch_norm_gradients(student, x, weight, bias, grad_out, running_mean=None, running_var=None):
    """Backpropagate grad_out through batch_norm in training mode with autograd.

    Also reports the running statistics after the call, and whether they carry autograd history.
    """
    x, weight, bias = (t.clone().requires_grad_() for t in (x, weight, bias))
    out = student.batch_norm(x, running_mean, running_var, weight, bias, training=True)
    out.backward(grad_out)
    history = [t is not None and (t.requires_grad or t.grad_fn is not None)
               for t in (running_mean, running_var)]
    return {"grad_x": x.grad, "grad_weight": weight.grad, "grad_bias": bias.grad,
            "running_mean": running_mean, "running_var": running_var,
            "running_stats_have_history": any(history)}


# --- batch_norm_backward ------------------------------------------------------------------------

def batch_norm_backward(student, grad_out, x, weight=None, eps=1e-5):
    grad_x, grad_weight, grad_bias = student.batch_norm_backward(grad_out, x, weight, eps)
    return {"grad_x": grad_x, "grad_weight": grad_weight, "grad_bias": grad_bias}


# --- BatchNormFunction, on the known-good batch_norm and batch_norm_backward --------------------

def _with_known_good_functions(student):
    return substituted(student, batch_norm=_known_good_batch_norm,
                       batch_norm_backward=_known_good_batch_norm_backward)


def function_forward(student, x, weight, bias, eps):
    with _with_known_good_functions(student):
        return {"out": student.BatchNormFunction.apply(x, weight, bias, eps)}


def function_gradients(student, x, weight, bias, grad_out, eps):
    """Backpropagate grad_out through BatchNormFunction; weight and bias given as None stay None."""
    x = x.clone().requires_grad_()
    weight, bias = (None if t is None else t.clone().requires_grad_() for t in (weight, bias))
    with _with_known_good_functions(student):
        out = student.BatchNormFunction.apply(x, weight, bias, eps)
        out.backward(grad_out)
    return {"out": out, "grad_x": x.grad, "grad_weight": None if weight is None else weight.grad,
            "grad_bias": None if bias is None else bias.grad}


def function_jacobians(student, x, weight, bias, eps):
    """The Jacobians of BatchNormFunction's output with respect to x, weight and bias."""
    def apply(x, weight, bias):
        return student.BatchNormFunction.apply(x, weight, bias, eps)
    with _with_known_good_functions(student):
        jacobians = torch.autograd.functional.jacobian(apply, (x, weight, bias))
    return {"x": jacobians[0], "weight": jacobians[1], "bias": jacobians[2]}


# --- BatchNorm1d / BatchNorm2d, on the known-good batch_norm ------------------------------------

def _module(student, class_name, options):
    return getattr(student, class_name)(**options)


def _repr(module):
    """repr(module), or what it raised: a broken repr fails the repr test, not every module_state one."""
    try:
        return repr(module)
    except Exception as error:  # student code (extra_repr) raised
        return f"<repr raised {type(error).__name__}: {error}>"


def module_state(student, class_name, options):
    """A fresh module's parameters, buffers (None ones listed by name), state_dict and repr."""
    module = _module(student, class_name, options)
    return {"parameters": {name: p for name, p in module.named_parameters()},
            "buffers": {name: b for name, b in module.named_buffers()},
            "none_attributes": sorted(name for name in ("weight", "bias", "running_mean",
                                                        "running_var", "num_batches_tracked")
                                      if getattr(module, name, "absent") is None),
            "state_dict": dict(module.state_dict()),
            "repr": _repr(module)}


def module_devices(student, class_name, options):
    """A fresh module's state_dict as {name: [device, dtype]} (tensors on a device such as
    'meta' cannot travel back; their device and dtype can)."""
    module = _module(student, class_name, options)
    return {"state_dict": {name: [str(value.device), value.dtype] if isinstance(value, torch.Tensor)
                           else [type(value).__name__, None]
                           for name, value in module.state_dict().items()}}


def module_run(student, class_name, options, inputs, modes, state_dict=None):
    """Build a module, optionally load a state_dict, then run inputs[i] in modes[i] ("train"/"eval").

    Returns the outputs, and the state_dict after each call (`states`) and at the end.
    """
    module = _module(student, class_name, options)
    if state_dict is not None:
        module.load_state_dict(state_dict)
    outs, states = [], []
    with _with_known_good_batch_norm(student):
        for x, mode in zip(inputs, modes):
            module.train(mode == "train")
            outs.append(module(x))
            states.append({name: value.clone() if isinstance(value, torch.Tensor) else value
                           for name, value in module.state_dict().items()})
    return {"outs": outs, "states": states, "state_dict": dict(module.state_dict())}


def module_gradients(student, class_name, options, x, grad_out):
    module = _module(student, class_name, options)
    x = x.clone().requires_grad_()
    with _with_known_good_batch_norm(student):
        module(x).backward(grad_out)
    return {"grad_x": x.grad, "grad_weight": getattr(getattr(module, "weight", None), "grad", None),
            "grad_bias": getattr(getattr(module, "bias", None), "grad", None)}


# --- MLPWithBatchNorm, on the known-good BatchNorm1d -------------------------------------------

def _with_known_good_layers(student):
    return substituted(student, batch_norm=_known_good_batch_norm, BatchNorm1d=_KnownGoodBatchNorm1d)


LAYER_NAMES = ("fc1", "bn1", "fc2", "bn2", "fc3")


def mlp_structure(student, in_features, hidden_features, out_features):
    """What the model has under each of the five names the stub gives, and its state_dict shapes.

    Built while the module's BatchNorm1d is the known-good one, so `file_batchnorm1d` says whether
    a layer was made from the BatchNorm1d of the student's file (or is the student's own class).
    """
    own_class = student.__dict__.get("BatchNorm1d")
    yours = tuple(c for c in (own_class, _KnownGoodBatchNorm1d) if isinstance(c, type))
    with _with_known_good_layers(student):
        model = student.MLPWithBatchNorm(in_features, hidden_features, out_features)
    layers = {}
    for name in LAYER_NAMES:
        layer = getattr(model, name, None)
        layers[name] = {
            "kind": None if layer is None else type(layer).__name__,
            "linear": isinstance(layer, nn.Linear),
            "features": ([getattr(layer, "in_features", None), getattr(layer, "out_features", None)]
                         if isinstance(layer, nn.Linear) else getattr(layer, "num_features", None)),
            "file_batchnorm1d": isinstance(layer, yours) and not isinstance(layer, nn.modules.batchnorm._NormBase),
        }
    return {"layers": layers,
            "state_shapes": {name: list(t.shape) for name, t in model.state_dict().items()}}


def mlp_run(student, sizes, state_dict, inputs, modes):
    manual_seed(0)
    with _with_known_good_layers(student):
        model = student.MLPWithBatchNorm(*sizes)
        model.load_state_dict(state_dict)
        outs = []
        for x, mode in zip(inputs, modes):
            model.train(mode == "train")
            outs.append(model(x))
    return {"outs": outs, "state_dict": dict(model.state_dict())}
