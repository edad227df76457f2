"""Public sanity checks for augmentation.py: run `pytest` in this folder.

They check your code on small hand-made images against the definitions of Cutout, Mixup and
CutMix, a worked example of the loss, and the shapes of the pipelines. Passing them is a good
sign, not a grade: the hidden graders check many more cases (photos and digits, non-square
images, borders, the laws of the random draws over hundreds of calls, soft labels, generators).
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torchvision.transforms import v2

import augmentation

torch.manual_seed(0)


def test_cutout_cuts_one_square_on_every_channel():
    x = torch.rand(3, 20, 30) + 1.0          # never -1, so the hole is where the output is -1
    before = x.clone()
    layer = augmentation.Cutout(5, fill=-1.0)
    full_squares = 0
    for _ in range(100):
        out = layer(x)
        assert out.shape == x.shape and out.dtype == x.dtype
        hole = out == -1.0
        assert torch.equal(hole, hole[:1].expand_as(hole)), "the same hole on every channel"
        rows, cols = hole[0].any(1).sum().item(), hole[0].any(0).sum().item()
        assert 0 < hole[0].sum().item() == rows * cols, "one rectangle, never empty"
        assert rows <= 5 and cols <= 5
        full_squares += (rows, cols) == (5, 5)
        assert torch.equal(out[~hole], x[~hole]), "only the hole changes"
    assert full_squares > 30
    assert torch.equal(x, before), "Cutout must not modify its input"


def test_cutout_p_zero_changes_nothing():
    x = torch.rand(3, 8, 8)
    assert torch.equal(augmentation.Cutout(4, p=0.0)(x), x)


def test_mixup_mixes_images_and_labels_alike():
    x = torch.eye(4).reshape(4, 1, 2, 2)      # image i is the one-hot vector e_i
    y = torch.arange(4)                       # and its label is class i
    x_mixed, y_soft = augmentation.mixup(x, y, alpha=1.0, num_classes=4,
                                         generator=torch.Generator().manual_seed(0))
    assert x_mixed.shape == x.shape and y_soft.shape == (4, 4)
    torch.testing.assert_close(x_mixed.reshape(4, 4), y_soft)
    torch.testing.assert_close(y_soft.sum(1), torch.ones(4))
    with pytest.raises(ValueError):
        augmentation.mixup(x, y)


def test_cutmix_labels_follow_the_pasted_area():
    x = torch.arange(4.0)[:, None, None, None].expand(4, 1, 10, 16).contiguous()   # image i holds i
    for seed in range(20):
        x_mixed, y_soft = augmentation.cutmix(x, torch.arange(4), num_classes=4,
                                              generator=torch.Generator().manual_seed(seed))
        for i in range(4):
            own = (x_mixed[i] == i).float().mean().item()
            assert y_soft[i, i].item() == pytest.approx(own, abs=1e-6)


def test_soft_cross_entropy_worked_example():
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]])
    y_soft = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    loss = augmentation.soft_cross_entropy(logits, y_soft)
    assert loss.shape == () and loss.item() == pytest.approx(1.5 * math.log(2.0), abs=1e-6)
    indices = torch.tensor([0, 1])
    torch.testing.assert_close(augmentation.soft_cross_entropy(logits, F.one_hot(indices, 2).float()),
                               F.cross_entropy(logits, indices))


def test_pipelines_shapes_and_determinism():
    image = torch.randint(0, 256, (3, 30, 40), dtype=torch.uint8)
    options = dict(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), image_size=16)
    evaluation = augmentation.build_transforms(False, **options)
    training = augmentation.build_transforms(True, **options)
    assert isinstance(evaluation, v2.Compose) and isinstance(training, v2.Compose)
    out = evaluation(image)
    assert out.shape == (3, 16, 16) and out.dtype == torch.float32
    assert torch.equal(evaluation(image), out), "evaluation must be deterministic"
    grey = torch.full((3, 30, 40), 51, dtype=torch.uint8)
    torch.testing.assert_close(evaluation(grey), torch.full((3, 16, 16), (0.2 - 0.5) / 0.25))
    outs = [training(image) for _ in range(4)]
    assert all(o.shape == (3, 16, 16) and o.dtype == torch.float32 for o in outs)
    assert any(not torch.equal(outs[0], o) for o in outs[1:]), "training must be random"
