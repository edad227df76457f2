"""Scenarios for the batchnorm graders. They run in the worker, beside the student's module.

Each takes the student's module first, then plain data and tensors from the grader; it calls the
student's code and returns plain data and tensors. No checking happens here: the trusted grader
compares what comes back against PyTorch.
"""

import torch

from _kit_worker.seeding import manual_seed  # the worker's package (coursekit/worker/seeding.py)


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
    """Backpropagate grad_out through batch_norm in training mode with autograd."""
    x, weight, bias = (t.clone().requires_grad_() for t in (x, weight, bias))
    out = student.batch_norm(x, running_mean, running_var, weight, bias, training=True)
    out.backward(grad_out)
    history = [t is not None and (t.requires_grad or t.grad_fn is not None)
               for t in (running_mean, running_var)]
    return {"grad_x": x.grad, "grad_weight": weight.grad, "grad_bias": bias.grad,
            "running_stats_have_history": any(history)}


def batch_norm_backward(student, grad_out, x, weight=None, eps=1e-5):
    grad_x, grad_weight, grad_bias = student.batch_norm_backward(grad_out, x, weight, eps)
    return {"grad_x": grad_x, "grad_weight": grad_weight, "grad_bias": grad_bias}


def function_forward(student, x, weight, bias, eps):
    return {"out": student.BatchNormFunction.apply(x, weight, bias, eps)}


def function_gradients(student, x, weight, bias, grad_out, eps):
    """Backpropagate grad_out through BatchNormFunction; inputs given as None stay None."""
    x, weight = x.clone().requires_grad_(), weight.clone().requires_grad_()
    student.BatchNormFunction.apply(x, weight, bias, eps).backward(grad_out)
    return {"grad_x": x.grad, "grad_weight": weight.grad}


def function_jacobians(student, x, weight, bias, eps):
    """The Jacobians of BatchNormFunction's output with respect to x, weight and bias."""
    def apply(x, weight, bias):
        return student.BatchNormFunction.apply(x, weight, bias, eps)
    jacobians = torch.autograd.functional.jacobian(apply, (x, weight, bias))
    return {"x": jacobians[0], "weight": jacobians[1], "bias": jacobians[2]}


def _module(student, class_name, options):
    return getattr(student, class_name)(**options)


def module_state(student, class_name, options):
    """A fresh module's parameters, buffers (None ones listed by name), state_dict and repr."""
    module = _module(student, class_name, options)
    return {"parameters": {name: p for name, p in module.named_parameters()},
            "requires_grad": {name: p.requires_grad for name, p in module.named_parameters()},
            "buffers": {name: b for name, b in module.named_buffers()},
            "none_attributes": sorted(name for name in ("weight", "bias", "running_mean",
                                                        "running_var", "num_batches_tracked")
                                      if getattr(module, name, "absent") is None),
            "state_dict": dict(module.state_dict()),
            "repr": repr(module)}


def module_run(student, class_name, options, inputs, modes, state_dict=None):
    """Build a module, optionally load a state_dict, then run inputs[i] in modes[i] ("train"/"eval").

    Returns the outputs, and the state_dict after each call (`states`) and at the end.
    """
    module = _module(student, class_name, options)
    if state_dict is not None:
        module.load_state_dict(state_dict)
    outs, states = [], []
    for x, mode in zip(inputs, modes):
        module.train(mode == "train")
        outs.append(module(x))
        states.append({name: value.clone() for name, value in module.state_dict().items()})
    return {"outs": outs, "states": states, "state_dict": dict(module.state_dict())}


def module_gradients(student, class_name, options, x, grad_out):
    module = _module(student, class_name, options)
    x = x.clone().requires_grad_()
    module(x).backward(grad_out)
    return {"grad_x": x.grad, "grad_weight": module.weight.grad, "grad_bias": module.bias.grad}


def mlp_structure(student, in_features, hidden_features, out_features):
    model = student.MLPWithBatchNorm(in_features, hidden_features, out_features)
    return {"children": [[name, type(child).__name__, type(child).__module__ == student.__name__]
                         for name, child in model.named_children()],
            "state_shapes": {name: list(t.shape) for name, t in model.state_dict().items()}}


def mlp_run(student, sizes, state_dict, inputs, modes):
    manual_seed(0)
    model = student.MLPWithBatchNorm(*sizes)
    model.load_state_dict(state_dict)
    outs = []
    for x, mode in zip(inputs, modes):
        model.train(mode == "train")
        outs.append(model(x))
    return {"outs": outs, "state_dict": dict(model.state_dict())}
