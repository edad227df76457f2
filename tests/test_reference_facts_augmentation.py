"""The augmentation reference, checked against the facts the graders rest on (shared/FACTS.md).

Beta(alpha, alpha) against its moments and torch.distributions.Beta; Cutout, Mixup and CutMix against the
papers' definitions on hand-made inputs; soft_cross_entropy against F.cross_entropy; the pipelines against
torchvision.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from coursekit.datasets import digit_images, photo_crops, sample_photos

from references import load_reference


@pytest.fixture(scope="module")
def aug():
    return load_reference("augmentation")



def test_sample_photos_are_scikit_learns():
    from sklearn.datasets import load_sample_images

    ours = sample_photos()
    theirs = load_sample_images().images
    assert ours.shape == (2, 3, 427, 640) and ours.dtype == torch.uint8
    for index, image in enumerate(theirs):
        assert torch.equal(ours[index], torch.tensor(image).permute(2, 0, 1))


@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_sample_beta_has_the_moments_of_beta(aug, alpha):
    generator = torch.Generator().manual_seed(0)
    draws = torch.tensor([aug.sample_beta(alpha, generator) for _ in range(20000)], dtype=torch.float64)
    assert ((draws >= 0) & (draws <= 1)).all()
    variance = 1.0 / (4.0 * (2.0 * alpha + 1.0))
    assert abs(draws.mean().item() - 0.5) < 6 * math.sqrt(variance / len(draws))
    assert draws.var().item() == pytest.approx(variance, rel=0.05)
    torch.manual_seed(0)
    theirs = torch.distributions.Beta(alpha, alpha).sample((20000,)).double()
    levels = torch.linspace(0.01, 0.99, 99, dtype=torch.float64)
    assert (draws.quantile(levels) - theirs.quantile(levels)).abs().max().item() < 0.02


def test_cutout_cuts_one_clipped_square_on_every_channel(aug):
    x = torch.rand(2, 3, 24, 40) + 1.0
    torch.manual_seed(0)
    layer = aug.Cutout(7, fill=-1.0)
    sizes = set()
    for _ in range(200):
        out = layer(x)
        mask = out == -1.0
        assert torch.equal(mask, mask[:1, :1].expand_as(mask))
        rows, cols = mask[0, 0].any(1).sum().item(), mask[0, 0].any(0).sum().item()
        assert mask[0, 0].sum().item() == rows * cols > 0
        sizes.add((rows, cols))
        assert torch.equal(out[~mask], x[~mask])
    assert (7, 7) in sizes and any(rows < 7 or cols < 7 for rows, cols in sizes)
    assert all(rows >= 4 and cols >= 4 for rows, cols in sizes)      # a centre is always inside the image


def test_cutout_p_zero_copies_and_the_input_is_untouched(aug):
    x = torch.rand(3, 8, 8)
    before = x.clone()
    out = aug.Cutout(4, p=0.0)(x)
    assert torch.equal(out, x) and out is not x
    aug.Cutout(4)(x)
    assert torch.equal(x, before)


def test_cutout_checks_its_arguments(aug):
    for size, p in ((0, 1.0), (2.5, 1.0), (3, 1.5)):
        with pytest.raises(ValueError):
            aug.Cutout(size, p=p)


def test_mixup_is_the_papers_formula(aug):
    x, y = digit_images(8, seed=0)
    generator = torch.Generator().manual_seed(1)
    x_mixed, y_soft = aug.mixup(x, y, alpha=0.4, num_classes=10, generator=generator)
    generator = torch.Generator().manual_seed(1)
    lam = aug.sample_beta(0.4, generator)
    perm = torch.randperm(8, generator=generator)
    torch.testing.assert_close(x_mixed, lam * x + (1 - lam) * x[perm])
    torch.testing.assert_close(y_soft, lam * F.one_hot(y, 10).float() + (1 - lam) * F.one_hot(y[perm], 10).float())


def test_mixup_and_cutmix_need_num_classes_for_indices_only(aug):
    x, y = digit_images(4, seed=1)
    for function in (aug.mixup, aug.cutmix):
        with pytest.raises(ValueError, match="num_classes"):
            function(x, y)
        _, y_soft = function(x, F.one_hot(y, 10).float())
        torch.testing.assert_close(y_soft.sum(1), torch.ones(4))


def test_cutmix_label_weight_is_the_clipped_box_area(aug):
    x = photo_crops(6, 24, 40, seed=2).float() + 1000 * torch.arange(6.0)[:, None, None, None]
    clipped = 0
    for seed in range(50):
        x_mixed, y_soft = aug.cutmix(x, torch.arange(6), num_classes=6, generator=torch.Generator().manual_seed(seed))
        owner = torch.div(x_mixed, 1000, rounding_mode="floor").long()
        for i in range(6):
            pasted = owner[i, 0] != i
            fraction = pasted.float().mean().item()
            assert y_soft[i, i].item() == pytest.approx(1 - fraction, abs=1e-6) or pasted.sum() == 0
        box = (owner[:, 0] != torch.arange(6)[:, None, None]).any(0)
        rows, cols = box.any(1).nonzero(), box.any(0).nonzero()
        if len(rows) and (rows.min() == 0 or rows.max() == 23 or cols.min() == 0 or cols.max() == 39):
            clipped += 1
    assert clipped >= 10


def test_cutmix_and_torchvisions_agree_on_the_box_law(aug):
    """torchvision's CutMix draws the same box law: its mean pasted fraction matches ours (E = 1/2 for alpha = 1
    before clipping, less after), within six standard deviations of 400 draws each."""
    x = torch.arange(6.0)[:, None, None, None].expand(6, 1, 24, 40).contiguous()
    torch.manual_seed(0)
    theirs = v2.CutMix(alpha=1.0, num_classes=6)
    ours_fractions, their_fractions = [], []
    for seed in range(400):
        x_mixed, _ = aug.cutmix(x, torch.arange(6), num_classes=6, generator=torch.Generator().manual_seed(seed))
        ours_fractions.append((x_mixed[0, 0] != 0).float().mean().item() if (x_mixed != x).any() else 0.0)
        mixed_theirs, _ = theirs(x, torch.arange(6))
        their_fractions.append((mixed_theirs[0, 0] != 0).float().mean().item())
    ours, theirs_mean = torch.tensor(ours_fractions), torch.tensor(their_fractions)
    spread = 6 * math.sqrt((ours.var() + theirs_mean.var()).item() / 400)
    assert abs(ours.mean().item() - theirs_mean.mean().item()) < spread


def test_soft_cross_entropy_is_pytorchs_with_probability_targets(aug):
    logits = 5 * torch.randn(10, 4)
    soft = torch.softmax(torch.randn(10, 4), dim=1)
    torch.testing.assert_close(aug.soft_cross_entropy(logits, soft), F.cross_entropy(logits, soft))
    indices = torch.randint(0, 4, (10,))
    torch.testing.assert_close(aug.soft_cross_entropy(logits, F.one_hot(indices, 4).float()),
                               F.cross_entropy(logits, indices))
    assert torch.isfinite(aug.soft_cross_entropy(300 * logits, F.one_hot(indices, 4).float()))


def test_pipelines(aug):
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    evaluation = aug.build_transforms(False, mean=mean, std=std, image_size=16)
    training = aug.build_transforms(True, mean=mean, std=std, image_size=16)
    assert isinstance(evaluation, v2.Compose) and isinstance(training, v2.Compose)
    image = photo_crops(1, 30, 50, seed=3)[0]
    torch.manual_seed(0)
    first = evaluation(image)
    torch.manual_seed(1)
    assert torch.equal(evaluation(image), first) and first.shape == (3, 16, 16) and first.dtype == torch.float32
    constant = torch.full((3, 20, 30), 51, dtype=torch.uint8)
    torch.testing.assert_close(evaluation(constant)[:, 0, 0], (0.2 - torch.tensor(mean)) / torch.tensor(std))
    outs = [training(image) for _ in range(5)]
    assert all(out.shape == (3, 16, 16) and out.dtype == torch.float32 for out in outs)
    assert len({tuple(out.flatten().tolist()) for out in outs}) == 5
