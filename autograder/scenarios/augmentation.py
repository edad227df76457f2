"""Scenarios for the augmentation graders. They run in the worker, beside the student's module.

Each takes the student's module first, then plain data and tensors from the grader; it calls the
student's code and returns plain data and tensors. No checking happens here: the trusted grader
recovers the holes, boxes, partners and lam from what comes back and checks them against the
laws of each augmentation.

One mistake costs the points of its own task only, so a scenario about one task runs the other
tasks' code from here, known-good: cutmix's scenarios give the student's cutmix a known-good
`_soft_labels` (the helper belongs to mixup's task), and the pipeline scenarios give
build_transforms a known-good `Cutout`. The student's module looks these names up when it
runs, so replacing them on the module for the length of a scenario is enough.

Statistical scenarios make many calls in one request (one worker round trip for hundreds of
draws). A pipeline cannot travel back to the grader, so `describe_pipeline` describes it (the
class names of its steps and the settings that decide whether they are random, nested
containers walked) and `apply_pipeline` applies it to the grader's images and returns plain
tensors.
"""

import contextlib

import torch
import torch.nn.functional as F
from _kit_worker.toolkit import (  # the scenarios' toolkit (coursekit/worker/toolkit.py)
    known_good,
    manual_seed,
    substituted,
)
from torch import nn


@known_good("mixup")
def _good_soft_labels(y, num_classes, dtype):
    """A known-good `_soft_labels`, as its docstring states it."""
    if y.dim() == 2:
        return y.to(dtype)
    if num_classes is None:
        raise ValueError("num_classes is required when y holds class indices")
    return F.one_hot(y, num_classes).to(dtype)


@known_good("Cutout")
class _GoodCutout(nn.Module):
    """A known-good `Cutout` (same arguments), for the pipelines that use it."""

    def __init__(self, size, p=1.0, fill=0.0):
        super().__init__()
        self.size, self.p, self.fill = size, p, float(fill)

    def forward(self, x):
        out = x.clone()
        if self.p < 1.0 and torch.rand(()).item() >= self.p:
            return out
        height, width = x.shape[-2], x.shape[-1]
        cy, cx = int(torch.randint(height, ())), int(torch.randint(width, ()))
        y0, x0 = cy - self.size // 2, cx - self.size // 2
        out[..., max(y0, 0):min(y0 + self.size, height), max(x0, 0):min(x0 + self.size, width)] = self.fill
        return out


def _generator(seed):
    return None if seed is None else torch.Generator().manual_seed(seed)


def _plain(value):
    """A tensor as a plain torch.Tensor (v2 returns tv_tensors.Image), anything else as its type's name."""
    if isinstance(value, torch.Tensor):
        return value.detach().as_subclass(torch.Tensor).clone()
    return f"a {type(value).__name__}"


def _is_new(out, x):
    """Whether out is a tensor of its own: neither x itself nor a view of x's memory."""
    return (isinstance(out, torch.Tensor) and out is not x
            and out.untyped_storage().data_ptr() != x.untyped_storage().data_ptr())


def _stacked(outs, shape):
    """The outputs stacked when each is a tensor of `shape`; else the first, for the grader to name."""
    if all(isinstance(out, torch.Tensor) and out.shape == shape for out in outs):
        return torch.stack(outs)
    return outs[0]


def cutout_calls(student, x, size, calls, seed, **options):
    """Cutout(size, **options) built once, then called `calls` times on x after manual_seed(seed).

    Returns the outputs stacked (calls, *x.shape), whether x came back unchanged, and whether
    every output was a new tensor (not x itself, nor a view of it).
    """
    x_before = x.clone()
    manual_seed(seed)
    layer = student.Cutout(size, **options)
    outs, new = [], []
    for _ in range(calls):
        out = layer(x)
        new.append(_is_new(out, x))
        outs.append(_plain(out))
    return {"outs": _stacked(outs, x.shape), "x_unchanged": torch.equal(x, x_before), "outs_new": all(new)}


def cutout_seeded_runs(student, x, size, calls, seeds, **options):
    """For each seed: manual_seed(seed), build Cutout(size, **options), call it `calls` times on x.

    Returns runs (len(seeds), calls, *x.shape) when every output is a tensor of x's shape.
    """
    runs = []
    for seed in seeds:
        manual_seed(seed)
        layer = student.Cutout(size, **options)
        outs = _stacked([_plain(layer(x)) for _ in range(calls)], x.shape)
        if not isinstance(outs, torch.Tensor):
            return {"runs": outs}
        runs.append(outs)
    return {"runs": torch.stack(runs)}


def _known_good_helpers(student, function):
    """cutmix runs with a known-good _soft_labels (mixup's task); mixup with the student's own."""
    if function == "cutmix":
        return substituted(student, _soft_labels=_good_soft_labels)
    return contextlib.nullcontext()


def _mixed_reply(images, labels, unchanged):
    stackable = all(isinstance(item, torch.Tensor) for item in images + labels) and \
        len({item.shape for item in images}) == 1 and len({item.shape for item in labels}) == 1
    return {"images": torch.stack(images) if stackable else images[0],
            "labels": torch.stack(labels) if stackable else labels[0],
            "inputs_unchanged": unchanged}


def _pair(value):
    """(x_mixed, y_soft) from what mixup or cutmix returned; (None, None) when it is not a pair."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        return value
    return None, None


def mix_calls(student, function, x, y, seeds, *, generator_seeds=None, **options):
    """`function` ("mixup" or "cutmix") called once per seed on (x, y).

    Each call re-seeds torch's global RNG with its seed first (None: leave it as it is); with
    `generator_seeds`, each call also gets a generator seeded with its entry. Returns the mixed
    images and soft labels of every call, stacked, and whether x and y came back unchanged.
    """
    x_before, y_before = x.clone(), y.clone()
    generator_seeds = generator_seeds or [None] * len(seeds)
    images, labels = [], []
    with _known_good_helpers(student, function):
        for seed, generator_seed in zip(seeds, generator_seeds):
            if seed is not None:
                manual_seed(seed)
            x_mixed, y_soft = _pair(getattr(student, function)(x, y, generator=_generator(generator_seed), **options))
            images.append(_plain(x_mixed))
            labels.append(_plain(y_soft))
    return _mixed_reply(images, labels, torch.equal(x, x_before) and torch.equal(y, y_before))


def mix_call(student, function, x, y, **options):
    """One call, for the errors it should raise."""
    with _known_good_helpers(student, function):
        getattr(student, function)(x, y, **options)
    return {}


def cutmix_scripted_calls(student, x, y, lams, seeds, **options):
    """cutmix on (x, y) once per (lam, seed), with a generator seeded with the seed, while the
    module's `sample_beta` returns that call's lam (the box then has a size the grader knows).

    Returns the images and labels, stacked, and for each call the arguments sample_beta got:
    [alpha, whether the generator was this call's] per draw.
    """
    draws, images, labels = [], [], []
    current = {}

    def scripted_sample_beta(alpha, generator=None):
        draws[-1].append([float(alpha) if isinstance(alpha, (int, float)) else None,
                          generator is not None and generator is current["generator"]])
        return current["lam"]

    with _known_good_helpers(student, "cutmix"), substituted(student, sample_beta=scripted_sample_beta):
        for lam, seed in zip(lams, seeds):
            current.update(lam=float(lam), generator=_generator(seed))
            draws.append([])
            x_mixed, y_soft = _pair(student.cutmix(x, y, generator=current["generator"], **options))
            images.append(_plain(x_mixed))
            labels.append(_plain(y_soft))
    reply = _mixed_reply(images, labels, True)
    reply["draws"] = draws
    return reply


def soft_cross_entropy_call(student, logits, y_soft):
    """The loss, and its gradient with respect to the logits."""
    logits = logits.clone().requires_grad_()
    loss = student.soft_cross_entropy(logits, y_soft)
    grad = None
    if isinstance(loss, torch.Tensor) and loss.requires_grad and loss.numel() == 1:
        grad = torch.autograd.grad(loss.reshape(()), logits)[0]
    return {"loss": _plain(loss), "grad": grad}


def _number(value):
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _numbers(value):
    """A setting as a list of numbers (a number, a pair), or None."""
    if _number(value) is not None:
        return [value]
    if isinstance(value, (list, tuple)) and value and all(_number(item) is not None for item in value):
        return list(value)
    return None


def _describe(cutouts, transform):
    """A transform as {"type", "module", "students_cutout", "p", "settings", "steps"}, nested containers walked.

    settings: what decides whether a step is random (sigma, quality, the colour jitter ranges) and
    what it converts to (dtype, scale, mean, std), where the step has them.
    """
    settings = {name: _numbers(getattr(transform, name, None))
                for name in ("sigma", "quality", "brightness", "contrast", "saturation", "hue", "mean", "std")}
    dtype = getattr(transform, "dtype", None)
    settings["dtypes"] = [str(item) for item in (dtype.values() if isinstance(dtype, dict) else [dtype])
                          if isinstance(item, torch.dtype)]
    scale = getattr(transform, "scale", None)
    settings["scale"] = scale if isinstance(scale, bool) else None
    description = {"type": type(transform).__name__, "module": type(transform).__module__,
                   "students_cutout": isinstance(transform, cutouts),
                   "p": _number(getattr(transform, "p", None)), "settings": settings, "steps": []}
    children = getattr(transform, "transforms", None)
    if isinstance(children, (list, tuple, nn.ModuleList)):
        description["steps"] = [_describe(cutouts, child) for child in children]
    return description


def describe_pipeline(student, train, mean, std, image_size):
    """What build_transforms returns (built with a known-good Cutout): whether it is a v2.Compose, and its steps."""
    from torchvision.transforms import v2

    cutouts = (student.Cutout, _GoodCutout) if isinstance(student.Cutout, type) else (_GoodCutout,)
    with substituted(student, Cutout=_GoodCutout):
        pipeline = student.build_transforms(train, mean=tuple(mean), std=tuple(std), image_size=image_size)
    return {"is_compose": isinstance(pipeline, v2.Compose), "pipeline": _describe(cutouts, pipeline)}


def apply_pipeline(student, train, mean, std, image_size, images, seeds, *, as_pil=False):
    """Build the pipeline once (with a known-good Cutout); apply it to each uint8 image (or its PIL copy) after
    manual_seed.

    `seeds[i]` seeds torch's global RNG before call i (None: leave it as it is). Every image is
    used with every seed, in order: outputs[i][j] is image j under seeds[i].
    """
    inputs = list(images)
    if as_pil:
        from PIL import Image
        inputs = [Image.fromarray(image.permute(1, 2, 0).numpy()) for image in inputs]
    outputs = []
    with substituted(student, Cutout=_GoodCutout):
        pipeline = student.build_transforms(train, mean=tuple(mean), std=tuple(std), image_size=image_size)
        for seed in seeds:
            if seed is not None:
                manual_seed(seed)
            outputs.append([_plain(pipeline(image)) for image in inputs])
    return {"outputs": outputs}
