"""Scenarios for the augmentation graders. They run in the worker, beside the student's module.

Each takes the student's module first, then plain data and tensors from the grader; it calls the
student's code and returns plain data and tensors. No checking happens here: the trusted grader
recovers the holes, boxes, partners and lam from what comes back and checks them against the
laws of each augmentation.

Statistical scenarios make many calls in one request (one worker round trip for hundreds of
draws). A pipeline cannot travel back to the grader, so `describe_pipeline` describes it (the
class names of its steps, nested containers walked) and `apply_pipeline` applies it to the
grader's images and returns plain tensors.
"""

import torch
from torch import nn

from _kit_worker.seeding import manual_seed  # the worker's package (coursekit/worker/seeding.py)


def _generator(seed):
    return None if seed is None else torch.Generator().manual_seed(seed)


def _plain(value):
    """A tensor as a plain torch.Tensor (v2 returns tv_tensors.Image), anything else as its type's name."""
    if isinstance(value, torch.Tensor):
        return value.detach().as_subclass(torch.Tensor).clone()
    return f"a {type(value).__name__}"


def cutout_calls(student, x, size, calls, seed, **options):
    """Cutout(size, **options) built once, then called `calls` times on x after manual_seed(seed).

    Returns the outputs stacked (calls, *x.shape) and whether x came back unchanged.
    """
    x_before = x.clone()
    manual_seed(seed)
    layer = student.Cutout(size, **options)
    outs = [_plain(layer(x)) for _ in range(calls)]
    stacked = torch.stack(outs) if all(isinstance(out, torch.Tensor) and out.shape == x.shape for out in outs) \
        else outs[0]
    return {"outs": stacked, "x_unchanged": torch.equal(x, x_before)}


def mix_calls(student, function, x, y, seeds, *, generator_seeds=None, **options):
    """`function` ("mixup" or "cutmix") called once per seed on (x, y).

    Each call re-seeds torch's global RNG with its seed first (None: leave it as it is); with
    `generator_seeds`, each call also gets a generator seeded with its entry. Returns the mixed
    images and soft labels of every call, stacked, and whether x and y came back unchanged.
    """
    x_before, y_before = x.clone(), y.clone()
    generator_seeds = generator_seeds or [None] * len(seeds)
    images, labels = [], []
    for seed, generator_seed in zip(seeds, generator_seeds):
        if seed is not None:
            manual_seed(seed)
        x_mixed, y_soft = getattr(student, function)(x, y, generator=_generator(generator_seed), **options)
        images.append(_plain(x_mixed))
        labels.append(_plain(y_soft))
    stackable = all(isinstance(item, torch.Tensor) for item in images + labels) and \
        len({item.shape for item in images}) == 1 and len({item.shape for item in labels}) == 1
    return {"images": torch.stack(images) if stackable else images[0],
            "labels": torch.stack(labels) if stackable else labels[0],
            "inputs_unchanged": torch.equal(x, x_before) and torch.equal(y, y_before)}


def mix_call(student, function, x, y, **options):
    """One call, for the errors it should raise."""
    getattr(student, function)(x, y, **options)
    return {}


def soft_cross_entropy_call(student, logits, y_soft):
    """The loss, and its gradient with respect to the logits."""
    logits = logits.clone().requires_grad_()
    loss = student.soft_cross_entropy(logits, y_soft)
    grad = None
    if isinstance(loss, torch.Tensor) and loss.requires_grad and loss.numel() == 1:
        grad = torch.autograd.grad(loss.reshape(()), logits)[0]
    return {"loss": _plain(loss), "grad": grad}


def _describe(student, transform):
    """A transform as {"type", "module", "students_cutout", "p", "steps"}, nested containers walked."""
    description = {"type": type(transform).__name__, "module": type(transform).__module__,
                   "students_cutout": isinstance(transform, student.Cutout),
                   "p": getattr(transform, "p", None) if isinstance(getattr(transform, "p", None), (int, float))
                   else None, "steps": []}
    children = getattr(transform, "transforms", None)
    if isinstance(children, (list, tuple, nn.ModuleList)):
        description["steps"] = [_describe(student, child) for child in children]
    return description


def describe_pipeline(student, train, mean, std, image_size):
    """What build_transforms returns: whether it is a v2.Compose, and its steps."""
    from torchvision.transforms import v2

    pipeline = student.build_transforms(train, mean=tuple(mean), std=tuple(std), image_size=image_size)
    return {"is_compose": isinstance(pipeline, v2.Compose), "pipeline": _describe(student, pipeline)}


def apply_pipeline(student, train, mean, std, image_size, images, seeds, *, as_pil=False):
    """Build the pipeline once; apply it to each uint8 image (or its PIL copy) after manual_seed.

    `seeds[i]` seeds torch's global RNG before call i (None: leave it as it is). Every image is
    used with every seed, in order: outputs[i][j] is image j under seeds[i].
    """
    pipeline = student.build_transforms(train, mean=tuple(mean), std=tuple(std), image_size=image_size)
    inputs = list(images)
    if as_pil:
        from PIL import Image
        inputs = [Image.fromarray(image.permute(1, 2, 0).numpy()) for image in inputs]
    outputs = []
    for seed in seeds:
        if seed is not None:
            manual_seed(seed)
        outputs.append([_plain(pipeline(image)) for image in inputs])
    return {"outputs": outputs}
