"""A custom data augmentation pipeline: Cutout, Mixup, CutMix, and train and eval transforms.

You will write, in this order:

1. ``Cutout``: erase one random square of an image (DeVries & Taylor, 2017).
2. ``mixup``: blend pairs of images and their labels with one weight lam (Zhang et al., 2018).
3. ``cutmix``: paste a box of one image into another; the labels follow the box's area (Yun et
   al., 2019).
4. ``soft_cross_entropy``: the cross-entropy against the soft labels that Mixup and CutMix make.
5. ``build_transforms``: a random, label-preserving training pipeline and a deterministic
   evaluation pipeline, composed with ``torchvision.transforms.v2``.

Shapes: ``B`` is the batch size, ``C, H, W`` the channels, height and width of an image, ``K``
the number of classes. Labels ``y`` are either class indices, int64 of shape (B,), or soft
labels, float of shape (B, K) whose rows sum to 1.

Randomness: every random number comes from ``generator`` when one is given, else from torch's
global RNG (``torch.manual_seed`` repeats it), so ``torch.rand(..., generator=generator)``,
``torch.randint``, ``torch.randperm`` and ``sample_beta`` (given below) are what you need.

Rules: do not use torchvision's own ``v2.MixUp``, ``v2.CutMix`` or ``RandomErasing`` (v1 or v2)
anywhere in this file: you write them here. The grader detects them at run time and gives no
credit to the tests they affect.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.transforms import v2


def _check_probability(p):
    """Raise ValueError unless 0 <= p <= 1."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability has to be between 0 and 1, but got {p}")


def _log_gamma_sample(shape, generator):
    """The logarithm of one draw of Gamma(shape, 1) (Marsaglia & Tsang, 2000).

    Shapes below 1 are drawn as Gamma(shape + 1) * U ** (1 / shape); logarithms keep the tiny
    values that small shapes give from underflowing to 0.
    """
    log_boost = 0.0
    if shape < 1.0:
        uniform = 1.0 - torch.rand((), generator=generator, dtype=torch.float64).item()  # (0, 1]
        log_boost = math.log(uniform) / shape
        shape += 1.0
    d = shape - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        z = torch.randn((), generator=generator, dtype=torch.float64).item()
        v = (1.0 + c * z) ** 3
        if v <= 0.0:
            continue
        uniform = 1.0 - torch.rand((), generator=generator, dtype=torch.float64).item()
        if math.log(uniform) < 0.5 * z * z + d - d * v + d * math.log(v):
            return math.log(d * v) + log_boost


def sample_beta(alpha, generator=None):
    """One draw of lam ~ Beta(alpha, alpha), a Python float in [0, 1]. Given: use it as it is.

    torch.distributions.Beta cannot draw from a torch.Generator, so this draws two Gamma(alpha)
    variables X and Y from `generator` (or torch's global RNG when None) and returns
    X / (X + Y), which follows Beta(alpha, alpha). alpha must be > 0.
    Small alpha (0.2) puts most draws near 0 or 1; alpha = 1 is the uniform law.
    """
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    difference = _log_gamma_sample(alpha, generator) - _log_gamma_sample(alpha, generator)
    if difference >= 0.0:
        return 1.0 / (1.0 + math.exp(-difference))
    small = math.exp(difference)
    return small / (1.0 + small)


class Cutout(nn.Module):
    """Cutout (DeVries & Taylor, 2017): erase one random square of the image.

    Args:
        size: the side of the square hole, in pixels (a positive int).
        p: the probability of cutting a hole at each call, 0 <= p <= 1.
        fill: the value written into the hole.

    forward(x): x is a float tensor (..., C, H, W): one image (C, H, W), or a batch (B, C, H, W)
    that then gets the same hole in every image. Returns a NEW tensor (x itself is never
    modified). With probability p (drawn from torch's global RNG), one hole is cut:

        centre:  cy uniform over the rows 0 .. H - 1, cx uniform over the columns 0 .. W - 1
                 (torch.randint), so the centre can lie anywhere in the image, borders included;
        square:  rows    cy - size // 2  to  cy - size // 2 + size  (end excluded),
                 columns cx - size // 2  to  cx - size // 2 + size,
                 clipped to the image: near a border the hole is cut short, so its area is
                 size * size for a centre far from the borders and less near them;
        value:   every pixel of the square, on every channel, becomes `fill`.

    Otherwise (probability 1 - p) it returns an unchanged copy of x. With p = 0 nothing is ever
    erased.
    Hint: clip with max(top, 0) and min(top + size, H) before slicing: a negative start index
    means "from the end" in Python and would erase the wrong rows. Rows are dim -2 (H), columns
    dim -1 (W).
    """

    def __init__(self, size, p=1.0, fill=0.0):
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"Cutout size must be a positive integer, got {size!r}")
        _check_probability(p)
        self.size, self.p, self.fill = size, p, float(fill)

    def forward(self, x):
        ### BEGIN SOLUTION: with probability p, set one clipped square to fill
        out = x.clone()
        if self.p < 1.0 and torch.rand(()).item() >= self.p:
            return out
        height, width = x.shape[-2], x.shape[-1]
        cy = int(torch.randint(height, ()))
        cx = int(torch.randint(width, ()))
        top, left = cy - self.size // 2, cx - self.size // 2
        y0, y1 = max(top, 0), min(top + self.size, height)
        x0, x1 = max(left, 0), min(left + self.size, width)
        out[..., y0:y1, x0:x1] = self.fill
        return out
        ### END SOLUTION

    def extra_repr(self):
        return f"size={self.size}, p={self.p}, fill={self.fill}"


def _soft_labels(y, num_classes, dtype):
    """Labels as float rows of shape (B, K) in `dtype`.

    y of shape (B,) holds class indices: return their one-hot rows (F.one_hot), K = num_classes;
    raise ValueError("num_classes is required when y holds class indices") if num_classes is
    None. y of shape (B, K) is already soft: return it in `dtype` (num_classes is not needed).
    """
    ### BEGIN SOLUTION: one-hot rows for class indices, soft labels as they are
    if y.dim() == 2:
        return y.to(dtype)
    if num_classes is None:
        raise ValueError("num_classes is required when y holds class indices")
    return F.one_hot(y, num_classes).to(dtype)
    ### END SOLUTION


def mixup(x, y, alpha=0.2, num_classes=None, generator=None):
    """Mixup (Zhang et al., 2018): blend every image with a partner, and its label likewise.

    Args:
        x: float images (B, C, H, W) (any shape (B, ...) works the same way).
        y: class indices (B,) with `num_classes` given, or soft labels (B, K).
        alpha: the Beta law's parameter, alpha > 0.
        generator: draw every random number from it (None: torch's global RNG).
    Returns:
        (x_mixed, y_soft): x_mixed of x's shape and dtype; y_soft of shape (B, K) and x's dtype,
        each row summing to 1. Neither x nor y is modified.

    One lam for the whole batch, and one random permutation `perm` of the batch (torch.randperm)
    that gives each image its partner:
        lam = sample_beta(alpha, generator)
        x_mixed = lam * x + (1 - lam) * x[perm]
        y_soft  = lam * onehot(y) + (1 - lam) * onehot(y[perm])
    The images and the labels must use the same lam and the same perm: the label says how much
    of each image the mixture holds. Class indices without num_classes raise ValueError (use
    `_soft_labels`, which you write too).
    """
    ### BEGIN SOLUTION: draw lam and a permutation, then mix images and labels alike
    targets = _soft_labels(y, num_classes, x.dtype)
    lam = sample_beta(alpha, generator)
    perm = torch.randperm(x.shape[0], generator=generator, device=x.device)
    x_mixed = lam * x + (1.0 - lam) * x[perm]
    y_soft = lam * targets + (1.0 - lam) * targets[perm]
    return x_mixed, y_soft
    ### END SOLUTION


def cutmix(x, y, alpha=1.0, num_classes=None, generator=None):
    """CutMix (Yun et al., 2019): paste a box of each image's partner; mix the labels by area.

    Args: as in `mixup`, with x of shape (B, C, H, W).
    Returns:
        (x_mixed, y_soft) as in `mixup`. Neither x nor y is modified.

    One lam, one permutation `perm` and ONE box for the whole batch:
        lam = sample_beta(alpha, generator)  (once per call, with this alpha and generator);
        perm = torch.randperm(B, ...)
        ratio = sqrt(1 - lam);  cut_h = int(H * ratio);  cut_w = int(W * ratio)
        centre cy uniform over 0 .. H - 1, cx uniform over 0 .. W - 1 (torch.randint)
        rows  cy - cut_h // 2  to  cy - cut_h // 2 + cut_h,  columns likewise with cut_w and cx,
        clipped to the image (as in Cutout);
        x_mixed = x, except inside the box, where x_mixed[i] = x[perm[i]];
        pasted = (box height) * (box width) / (H * W)   after clipping: the exact pixel fraction
        y_soft = (1 - pasted) * onehot(y) + pasted * onehot(y[perm])
    The labels must use the area actually pasted, not lam: clipping makes the box smaller.
    """
    ### BEGIN SOLUTION: paste one clipped box from the partners; weight labels by area
    targets = _soft_labels(y, num_classes, x.dtype)
    height, width = x.shape[-2], x.shape[-1]
    lam = sample_beta(alpha, generator)
    perm = torch.randperm(x.shape[0], generator=generator, device=x.device)
    ratio = math.sqrt(1.0 - lam)
    cut_h, cut_w = int(height * ratio), int(width * ratio)
    cy = int(torch.randint(height, (), generator=generator))
    cx = int(torch.randint(width, (), generator=generator))
    y0, y1 = max(cy - cut_h // 2, 0), min(cy - cut_h // 2 + cut_h, height)
    x0, x1 = max(cx - cut_w // 2, 0), min(cx - cut_w // 2 + cut_w, width)
    x_mixed = x.clone()
    x_mixed[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]
    pasted = (y1 - y0) * (x1 - x0) / (height * width)
    y_soft = (1.0 - pasted) * targets + pasted * targets[perm]
    return x_mixed, y_soft
    ### END SOLUTION


def soft_cross_entropy(logits, y_soft):
    """Cross-entropy against soft labels: the batch mean of -sum_k y_soft * log_softmax(logits).

    Args:
        logits: float (B, K). y_soft: float (B, K), rows summing to 1.
    Returns:
        A 0-dim tensor, differentiable with respect to logits. For one-hot y_soft it equals
        F.cross_entropy(logits, class indices).
    Hint: F.log_softmax(logits, dim=1) is stable for large logits; torch.log(softmax(...))
    gives log(0) = -inf, and 0 * -inf = NaN.
    """
    ### BEGIN SOLUTION: the batch mean of the per-sample soft cross-entropy
    return -(y_soft * F.log_softmax(logits, dim=1)).sum(dim=1).mean()
    ### END SOLUTION


def _to_normalised_float(mean, std):
    """The last steps of both pipelines: uint8 [0, 255] to float32 [0, 1], then (x - mean) / std.

    Returns a list of two v2 transforms: v2.ToDtype(torch.float32, scale=True) and
    v2.Normalize(mean=mean, std=std).
    """
    ### BEGIN SOLUTION: scale to float32 in [0, 1], then normalise
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean=list(mean), std=list(std))]
    ### END SOLUTION


def build_transforms(train, *, mean, std, image_size):
    """The training or the evaluation pipeline, as one torchvision.transforms.v2.Compose.

    Args:
        train: True for the training pipeline, False for the evaluation pipeline.
        mean, std: per-channel sequences of C floats, for v2.Normalize.
        image_size: the side of the square output.
    Returns:
        v2.Compose taking a uint8 image (C, H, W) tensor or a PIL image of any size, and
        returning float32 (C, image_size, image_size) normalised: (pixel / 255 - mean) / std.
        Both pipelines convert and normalise with the two steps of `_to_normalised_float(mean,
        std)`: v2.ToDtype(torch.float32, scale=True), then v2.Normalize(mean=mean, std=std).

    Evaluation (train=False): deterministic, with no random op at all: the same image gives the
    same output on every call, whatever the seed. For example v2.ToImage(), v2.Resize(image_size),
    v2.CenterCrop(image_size), then `_to_normalised_float`.
    Training (train=True): random and label-preserving (a flipped or cropped photo of a cat is
    still a cat), for example v2.ToImage(), v2.RandomResizedCrop(image_size, scale=(0.5, 1.0)),
    v2.RandomHorizontalFlip(), then `_to_normalised_float`, then your Cutout(image_size // 4,
    p=0.5) (after normalising, a fill of 0 is the mean colour). Random means that no output of
    one image comes out more than half of the time. Draw randomness from torch's global RNG
    (every v2 transform does), so torch.manual_seed repeats a call.
    Only the training data is augmented: evaluation measures the model on the images as they are.
    """
    ### BEGIN SOLUTION: compose the training or the evaluation pipeline
    if train:
        steps = [v2.ToImage(), v2.RandomResizedCrop(image_size, scale=(0.5, 1.0), antialias=True),
                 v2.RandomHorizontalFlip(), *_to_normalised_float(mean, std),
                 Cutout(max(1, image_size // 4), p=0.5)]
    else:
        steps = [v2.ToImage(), v2.Resize(image_size, antialias=True), v2.CenterCrop(image_size),
                 *_to_normalised_float(mean, std)]
    return v2.Compose(steps)
    ### END SOLUTION
