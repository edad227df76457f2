"""Hidden graders for the augmentation exercise.

Augmentations are random, and a correct submission may draw its random numbers in another order
than the reference, so no test compares pixels with a seeded answer. Each recovers what was done
from the output (the hole, the box, each image's partner, lam) and checks it against the laws
(shared/FACTS.md): holes and boxes are one clipped rectangle, images and labels agree on lam and
partner, and the laws of the hole centres, of Cutout's p and of lam hold within bounds that a
correct submission passes on every seed (six standard deviations, or the Dvoretzky-Kiefer-
Wolfowitz bound on the empirical distribution at a false-alarm rate of 1e-9). Test images are
crops of scikit-learn's sample photos and its digits. Everything else is compared with PyTorch
(F.cross_entropy) or hand-computed values, in this trusted process.
"""

import math

import torch
import torch.nn.functional as F

from coursekit.datasets import digit_images, photo_crops
from coursekit.grading.api import (exercise, expect, expect_close, expect_equal, expect_raised, expect_tensor, points,
                                   shape_text)

pytestmark = exercise("augmentation")

HEIGHT, WIDTH = 24, 40              # H != W: swapped axes show
FILL = -1.0                         # never a pixel of a test image, so the hole is exactly the fill
FALSE_ALARM = 1e-9                  # of each law's bound, for a correct submission
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IMAGE_SIZE = 16


def photos(count, seed, height=HEIGHT, width=WIDTH):
    """Float32 crops of the sample photos in [0, 1]: (count, 3, height, width)."""
    return photo_crops(count, height, width, seed=seed).float() / 255.0


def six_sigma(p, n):
    return 6.0 * math.sqrt(p * (1.0 - p) / n)


def dkw_bound(n):
    """sup |F_n - F| that n draws from F exceed with probability at most FALSE_ALARM (DKW, Massart)."""
    return math.sqrt(math.log(2.0 / FALSE_ALARM) / (2.0 * n))


# --- Cutout: finding the hole ------------------------------------------------------------------

def runs(mask):
    """For boolean rows (N, L): first index, end (last + 1) and count of True; whether they are contiguous."""
    count = mask.sum(dim=1)
    length = mask.shape[1]
    first = mask.int().argmax(dim=1)
    end = length - mask.flip(1).int().argmax(dim=1)
    contiguous = (count == 0) | (end - first == count)
    return first, end, count, contiguous


def holes(outs, x, fill, what):
    """The hole of each of the calls in outs (calls, *x.shape) as (y0, y1, x0, x1), empty holes as 0 sizes.

    Checks that outside the hole every pixel is x's, that the hole is the same on every channel
    (and image), and that it is one rectangle.
    """
    expect_tensor(outs, what, shape=(outs.shape[0], *x.shape), dtype=x.dtype,
                  hint="Cutout returns a tensor of x's shape and dtype")
    filled = outs == fill
    expect(bool((torch.where(filled, x.expand_as(outs), outs) == x).all()),
           f"{what}: pixels outside the hole were changed",
           hint="only the pixels of the square change, and they become exactly `fill`")
    flat = filled.reshape(outs.shape[0], -1, *x.shape[-2:])
    expect(bool((flat == flat[:, :1]).all()), f"{what}: the hole differs between channels (or images)",
           hint="erase the square on every channel at once: out[..., y0:y1, x0:x1] = fill")
    mask = flat[:, 0]
    row_first, row_end, rows, rows_ok = runs(mask.any(dim=2))
    col_first, col_end, cols, cols_ok = runs(mask.any(dim=1))
    rectangle = (mask == (mask.any(dim=2)[:, :, None] & mask.any(dim=1)[:, None, :])).flatten(1).all(dim=1)
    expect(bool((rows_ok & cols_ok & rectangle).all()), f"{what}: the erased pixels do not form one rectangle",
           hint="cut one square per call, with a single slice of rows and of columns")
    return row_first, row_end, rows, col_first, col_end, cols


def cutout(student, x, size, calls, seed, **options):
    got = student.run("cutout_calls", x, size, calls, seed, **options)
    expect(isinstance(got.outs, torch.Tensor) and got.outs.dim() == x.dim() + 1,
           "Cutout should return a tensor of its input's shape at every call")
    return got


def side_ok(first, end, count, size, length):
    """A side of a hole centred anywhere in the image: size inside, cut short (not below half) at a border."""
    interior = (first > 0) & (end < length)
    return torch.where(interior, count == size, (count <= size) & (count >= min(size - size // 2, length)))


def check_interior_holes(student, seed):
    """test_cutout_interior_hole_is_a_size_by_size_square's check on a given seed (tests/test_augmentation_laws.py tries others)."""
    for size, seed in ((7, seed), (6, seed + 1)):
        x = photos(1, seed)[0, :1]                 # one channel: the channels have a test of their own
        got = cutout(student, x, size, 100, seed, fill=FILL)
        y0, y1, rows, x0, x1, cols = holes(got.outs, x, FILL, f"Cutout({size})")
        interior = (y0 > 0) & (y1 < HEIGHT) & (x0 > 0) & (x1 < WIDTH) & (rows > 0)
        expect(bool(interior.any()), f"Cutout({size}) never cut a hole away from the borders in 100 calls",
               hint="with p = 1 every call cuts a hole, and most centres lie away from the borders")
        wrong = interior & ((rows != size) | (cols != size))
        expect(not bool(wrong.any()),
               f"Cutout({size}): {int(wrong.sum())} of {int(interior.sum())} holes away from the borders were "
               f"not {size} x {size} (one was {int(rows[wrong][0]) if wrong.any() else 0} x "
               f"{int(cols[wrong][0]) if wrong.any() else 0})",
               hint="rows cy - size // 2 up to (not including) cy - size // 2 + size, columns likewise")


@points(2, task="Cutout")
def test_cutout_interior_hole_is_a_size_by_size_square(student):
    """Away from the borders, the hole is exactly size x size pixels (for an odd and an even size)."""
    check_interior_holes(student, seed=1)


def check_clipped_holes(student, seed):
    """test_cutout_hole_is_clipped_at_the_borders's check on a given seed (tests/test_augmentation_laws.py tries others)."""
    size = 9
    x = photos(1, seed)[0, :1]
    got = cutout(student, x, size, 200, seed, fill=FILL)
    y0, y1, rows, x0, x1, cols = holes(got.outs, x, FILL, f"Cutout({size})")
    empty = (rows == 0) | (cols == 0)
    expect(not bool(empty.any()), f"Cutout({size}) with p = 1 erased nothing in {int(empty.sum())} of 200 calls",
           hint="clip the square to the image with max(top, 0) and min(top + size, H) before slicing: a "
                "negative start index counts from the end and gives an empty or wrong slice")
    ok = side_ok(y0, y1, rows, size, HEIGHT) & side_ok(x0, x1, cols, size, WIDTH)
    expect(bool(ok.all()), f"Cutout({size}): {int((~ok).sum())} of 200 holes have a side that no clipped "
                           f"{size} x {size} square centred in the image has",
           hint="the centre may be any pixel; the square is cut short where it crosses a border")
    for name, touched in (("top", y0 == 0), ("bottom", y1 == HEIGHT), ("left", x0 == 0), ("right", x1 == WIDTH)):
        expect(bool(touched.any()), f"Cutout({size}): no hole reached the {name} border in 200 calls",
               hint="draw the centre over the whole image, borders included, not only where the square fits")


@points(2, task="Cutout")
def test_cutout_hole_is_clipped_at_the_borders(student):
    """Near a border the hole is cut short, never moved inside or lost: every call erases part of the square."""
    check_clipped_holes(student, seed=3)


@points(2, task="Cutout")
def test_cutout_hole_is_the_fill_value_on_every_channel(student):
    """The hole is `fill` on every channel, and on a batch the same hole is cut in every image."""
    x = photos(2, 4)
    got = cutout(student, x, 8, 40, 4, fill=0.5)
    _, _, rows, _, _, cols = holes(got.outs, x, 0.5, "Cutout(8, fill=0.5) on a batch of 2 RGB images")
    expect(bool(((rows > 0) & (cols > 0)).all()), "Cutout(8, fill=0.5) left some images without a hole set to 0.5",
           hint="write `fill` (not 0) into the square, on every channel")


def check_uniform_centres(student, seed):
    """test_cutout_hole_centres_are_uniform_over_the_image's check on a given seed (tests/test_augmentation_laws.py tries others)."""
    size, calls, height, width = 5, 1000, 12, 20
    x = photos(1, seed, height, width)[0, :1]
    got = cutout(student, x, size, calls, seed, fill=FILL)
    y0, y1, rows, x0, x1, cols = holes(got.outs, x, FILL, f"Cutout({size})")
    expect(bool(((rows > 0) & (cols > 0)).all()), f"Cutout({size}) with p = 1 left some images without a hole")
    bound = dkw_bound(calls)
    for axis, first, end, length in (("row", y0, y1, height), ("column", x0, x1, width)):
        top = torch.where(first > 0, first, end - size)
        centre = top + size // 2
        expect(bool(((centre >= 0) & (centre < length)).all()),
               f"Cutout({size}): some hole centres lie outside the image's {axis}s")
        counts = torch.bincount(centre, minlength=length).double()
        gap = (counts.cumsum(0) / calls - torch.arange(1, length + 1, dtype=torch.float64) / length).abs().max()
        expect(gap.item() <= bound, f"Cutout({size}): the {axis} of the hole centres is not uniform over the "
                                    f"{length} {axis}s (distribution off by {gap.item():.3f} after {calls} holes)",
               hint=f"draw the centre's {axis} with torch.randint over all {axis}s of the image (dim "
                    f"{'-2' if axis == 'row' else '-1'}), borders included")


@points(3, task="Cutout")
def test_cutout_hole_centres_are_uniform_over_the_image(student):
    """The hole's centre is uniform over every row and every column, borders included."""
    check_uniform_centres(student, seed=5)


def check_cutout_probability(student, seed):
    """test_cutout_applies_with_probability_p's check on a given seed (tests/test_augmentation_laws.py tries others)."""
    x = photos(1, seed)[0, :1]
    got = cutout(student, x, 6, 400, seed, p=0.3, fill=FILL)
    _, _, rows, _, _, _ = holes(got.outs, x, FILL, "Cutout(6, p=0.3)")
    fraction = (rows > 0).double().mean().item()
    expect(abs(fraction - 0.3) <= six_sigma(0.3, 400), f"Cutout(6, p=0.3) cut a hole in {fraction:.2f} of the calls",
           hint="cut the hole when a uniform draw falls below p (probability p), else return a copy")


@points(2, task="Cutout")
def test_cutout_applies_with_probability_p(student):
    """With p = 0.3, about 30% of the calls cut a hole (within six standard deviations); the rest copy x."""
    check_cutout_probability(student, seed=6)


@points(1, task="Cutout")
def test_cutout_p_zero_is_identity(student):
    """With p = 0 Cutout never erases anything: every output equals the input."""
    x = photos(1, 7)[0]
    got = cutout(student, x, 6, 20, 7, p=0.0, fill=FILL)
    expect_equal(got.outs, x.expand(20, *x.shape).contiguous(), "Cutout(6, p=0) on 20 calls",
                 hint="with probability 1 - p, return the image unchanged")


@points(1, task="Cutout")
def test_cutout_leaves_its_input_untouched(student):
    """Cutout returns a new tensor and leaves its input unchanged."""
    x = photos(1, 8)[0]
    got = cutout(student, x, 8, 3, 8, fill=FILL)
    holes(got.outs, x, FILL, "Cutout(8)")
    expect(got.x_unchanged, "Cutout changed its input tensor",
           hint="clone x first (out = x.clone()) and erase in the copy")


# --- mixup and cutmix: recovering lam and partners --------------------------------------------

def mixed(student, function, x, y, seeds, **options):
    got = student.run("mix_calls", function, x, y, seeds, **options)
    calls = len(seeds)
    expect(isinstance(got.images, torch.Tensor) and isinstance(got.labels, torch.Tensor)
           and got.images.shape[0] == calls and got.images.dim() == x.dim() + 1,
           f"{function} should return (x_mixed, y_soft), two tensors")
    expect_tensor(got.images[0], f"{function}'s x_mixed", shape=x.shape, dtype=x.dtype)
    return got


def labels_from_index_labels(labels, batch, function):
    """With y = 0 .. B - 1 and K = B, each soft label row names the image's own weight and its partner."""
    expect_tensor(labels[0], f"{function}'s y_soft", shape=(batch, batch), dtype=torch.float32,
                  hint="y_soft has shape (B, num_classes) and x's dtype")
    own = labels.diagonal(dim1=1, dim2=2)
    others = labels.clone()
    others.diagonal(dim1=1, dim2=2).fill_(-1.0)
    partner = torch.where(own < 1.0 - 1e-6, others.argmax(dim=2), torch.arange(batch).expand_as(own))
    return own, partner


def expect_permutations(partner, what, hint):
    batch = partner.shape[1]
    sorted_partners = partner.sort(dim=1).values
    expect(bool((sorted_partners == torch.arange(batch)).all()),
           f"{what}: in some calls two images got the same partner", hint=hint)


@points(3, task="mixup")
def test_mixup_images_and_labels_use_the_same_lam_and_partner(student):
    """Each digit is lam times itself plus (1 - lam) times its partner, and its label is mixed with the same lam and partner."""
    x, _ = digit_images(8, seed=10)
    y = torch.arange(8)                  # a class per image: the soft label names the partner
    got = mixed(student, "mixup", x, y, list(range(20)), alpha=1.0, num_classes=8)
    own, partner = labels_from_index_labels(got.labels, 8, "mixup")
    lam = own[:, :, None, None, None]
    want = lam * x + (1.0 - lam) * x[partner]
    expect_close(got.images, want, "x_mixed, against lam and the partner read from y_soft (20 calls on digits)",
                 hint="mix images and labels with the same lam and the same permutation: "
                      "x[perm] with lam, onehot(y)[perm] with the same lam")
    mixed_rows = own < 1.0 - 1e-6
    lam_per_call = torch.where(mixed_rows, own, torch.inf).min(dim=1).values
    spread = torch.where(mixed_rows, (own - lam_per_call[:, None]).abs(), 0.0).max().item()
    expect(spread <= 1e-5, "some images of one batch were mixed with different lam",
           hint="draw one lam per call (per batch), not one per image")


def check_mixup_partners(student, seed):
    """test_mixup_partners_come_from_a_random_permutation's check on a given seed (tests/test_augmentation_laws.py tries others)."""
    batch = 8
    x = torch.eye(batch).reshape(batch, 1, 2, batch // 2)
    got = mixed(student, "mixup", x, torch.arange(batch), list(range(seed, seed + 30)), alpha=1.0, num_classes=batch)
    images = got.images.reshape(30, batch, batch)
    own, partner = labels_from_index_labels(images, batch, "mixup")
    hint = "pair the images with torch.randperm(B): every image is some image's partner"
    expect_permutations(partner, "mixup", hint)
    moved = (partner != torch.arange(batch)).any(dim=1)
    expect(bool(moved.any()), "mixup mixed every image with itself in 30 calls", hint=hint)
    expect(len({tuple(row) for row in partner.tolist()}) >= 20,
           "mixup paired the images the same way in most of 30 calls",
           hint="draw a fresh random permutation at every call, not a fixed shift of the batch")


@points(2, task="mixup")
def test_mixup_partners_come_from_a_random_permutation(student):
    """The partners form a permutation of the batch, and a new one is drawn at every call."""
    check_mixup_partners(student, seed=0)


@points(1, task="mixup")
def test_mixup_soft_labels_sum_to_one(student):
    """With digit labels and num_classes = 10, y_soft is (B, 10), non-negative, and each row sums to 1."""
    x, y = digit_images(12, seed=11)
    got = mixed(student, "mixup", x, y, list(range(5)), alpha=0.2, num_classes=10)
    expect_tensor(got.labels[0], "mixup's y_soft", shape=(12, 10), dtype=torch.float32,
                  hint="y_soft has shape (B, num_classes) and x's dtype")
    expect(bool((got.labels >= 0).all()), "y_soft has negative entries")
    expect_close(got.labels.sum(dim=2), torch.ones(5, 12), "the row sums of y_soft",
                 hint="y_soft = lam * onehot(y) + (1 - lam) * onehot(y[perm])")
    expect(got.inputs_unchanged, "mixup changed x or y", hint="build new tensors; never mix in place")


def symmetric_beta_cdf(points, alpha, steps=20000):
    """The distribution function of Beta(alpha, alpha) at `points`, without scipy.

    For x <= 1/2, substituting t = s ** (1 / alpha) turns the incomplete beta integral into
    (1 / alpha) * integral from 0 to x ** alpha of (1 - s ** (1 / alpha)) ** (alpha - 1) ds, whose
    integrand is smooth and bounded: the trapezoid rule on a fine grid of s, interpolated, gives it
    to about 1e-8. For x > 1/2 the symmetry F(x) = 1 - F(1 - x) is used.
    """
    points = torch.as_tensor(points, dtype=torch.float64).clamp(0.0, 1.0)
    s_max = 0.5 ** alpha
    s = torch.linspace(0.0, s_max, steps + 1, dtype=torch.float64)
    integrand = (1.0 - s ** (1.0 / alpha)).clamp_min(0.0) ** (alpha - 1.0)
    beta_function = math.exp(2.0 * math.lgamma(alpha) - math.lgamma(2.0 * alpha))
    cumulative = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumulative_trapezoid(integrand, s)])
    cumulative = cumulative / (alpha * beta_function)
    position = torch.minimum(points, 1.0 - points) ** alpha / s_max * steps
    index = position.floor().long().clamp(0, steps - 1)
    weight = position - index
    lower_cdf = cumulative[index] * (1.0 - weight) + cumulative[index + 1] * weight
    return torch.where(points <= 0.5, lower_cdf, 1.0 - lower_cdf)


def ks_distance(draws, cdf):
    """sup |F_n - F| for the draws against the distribution function cdf."""
    draws = draws.double().sort().values
    n = len(draws)
    at = cdf(draws)
    above = torch.arange(1, n + 1, dtype=torch.float64) / n - at
    below = at - torch.arange(0, n, dtype=torch.float64) / n
    return max(above.max().item(), below.max().item())


LAW_CALLS = 600


def mixup_lams(student, alpha, seed):
    """lam of LAW_CALLS mixup calls, each read from one-hot images (the own weight of a mixed image)."""
    batch = 8
    x = torch.eye(batch).reshape(batch, 1, 2, batch // 2)
    got = mixed(student, "mixup", x, torch.arange(batch), [seed] + [None] * (LAW_CALLS - 1),
                alpha=alpha, num_classes=batch)
    own = got.images.reshape(LAW_CALLS, batch, batch).diagonal(dim1=1, dim2=2)
    return own.min(dim=1).values          # an unmixed image (its own partner) has weight 1


def expect_beta_law(lams, alpha):
    distance = ks_distance(lams, lambda points: symmetric_beta_cdf(points, alpha))
    expect(distance <= dkw_bound(len(lams)),
           f"with alpha = {alpha}, the lam of {len(lams)} calls do not follow Beta({alpha}, {alpha}): "
           f"their distribution is off by {distance:.3f}",
           hint="draw lam = sample_beta(alpha, generator), once per call, and use it as drawn "
                "(it is the weight of each image itself, 1 - lam that of its partner)")


@points(2, task="mixup")
def test_mixup_lam_follows_beta_with_alpha_02(student):
    """With alpha = 0.2, lam follows Beta(0.2, 0.2): most mixtures are close to one of the two images."""
    expect_beta_law(mixup_lams(student, 0.2, seed=12), 0.2)


@points(2, task="mixup")
def test_mixup_lam_follows_beta_with_alpha_1(student):
    """With alpha = 1, lam follows Beta(1, 1), the uniform law on [0, 1]."""
    expect_beta_law(mixup_lams(student, 1.0, seed=13), 1.0)


@points(2, task="mixup")
def test_mixup_generator_makes_it_reproducible(student):
    """With a generator, the result depends on its seed alone; without one, torch.manual_seed repeats it."""
    x, y = digit_images(8, seed=14)
    got = mixed(student, "mixup", x, y, [0, 1, 2], generator_seeds=[7, 7, 8], alpha=1.0, num_classes=10)
    hint = "draw lam and the permutation from `generator` (sample_beta(alpha, generator), torch.randperm(..., generator=generator))"
    expect_equal(got.images[1], got.images[0], "x_mixed of two calls with generators seeded alike", hint=hint)
    expect_equal(got.labels[1], got.labels[0], "y_soft of two calls with generators seeded alike", hint=hint)
    expect(not torch.equal(got.images[2], got.images[0]), "generators seeded differently gave the same mixture")
    again = mixed(student, "mixup", x, y, [3, 3], alpha=1.0, num_classes=10)
    expect_equal(again.images[1], again.images[0], "x_mixed of two calls after torch.manual_seed(3)",
                 hint="with generator=None, draw from torch's global RNG")


@points(2, task="mixup")
def test_mixup_mixes_soft_labels(student):
    """Soft labels (B, K) are mixed as they are, with the images' lam and partners."""
    batch, classes = 8, 5
    x = torch.eye(batch).reshape(batch, 1, 2, batch // 2)
    y = torch.softmax(torch.randn(batch, classes, generator=torch.Generator().manual_seed(15)), dim=1)
    got = mixed(student, "mixup", x, y, list(range(10)), alpha=1.0)
    own, partner = labels_from_index_labels(got.images.reshape(10, batch, batch), batch, "mixup")
    want = own[:, :, None] * y + (1.0 - own[:, :, None]) * y[partner]
    expect_close(got.labels, want, "y_soft for soft labels (10 calls)",
                 hint="labels of shape (B, K) are already soft: mix them as they are, like the images")


@points(1, task="mixup")
def test_mixup_needs_num_classes_for_class_indices(student):
    """Class indices without num_classes raise ValueError."""
    x, y = digit_images(4, seed=16)
    expect_raised(student.raises("mix_call", "mixup", x, y), ValueError, "mixup(x, class indices) without num_classes",
                  hint="the number of classes cannot be guessed from one batch: raise ValueError when it is missing")


def cutmix_inputs(batch, seed):
    """Photo crops, image i shifted to [2i, 2i + 1]: every pixel tells which image it came from."""
    return photos(batch, seed) + 2.0 * torch.arange(batch, dtype=torch.float32)[:, None, None, None]


def cutmix_boxes(got, x, what):
    """Per call: the partner of each image and the box pasted (y0, y1, x0, x1, area), after checking
    that the pasted pixels are one rectangle, the same for every image, copied from one partner."""
    images = got.images
    calls, batch = images.shape[:2]
    owner = torch.floor(images / 2.0).long()
    expect(bool(((owner >= 0) & (owner < batch)).all()) and
           bool((images == torch.gather(x.expand(calls, *x.shape), 1, owner.clamp(0, batch - 1))).all()),
           f"{what}: some pixels of x_mixed are not copied from an image of the batch",
           hint="CutMix copies pixels: x_mixed[i] is x[i], except for the box, where it is x[perm[i]]")
    pasted = owner != torch.arange(batch)[None, :, None, None, None]
    expect(bool((pasted == pasted[:, :, :1]).all()), f"{what}: the box differs between channels",
           hint="paste the box on every channel: x_mixed[..., y0:y1, x0:x1]")
    highest = torch.where(pasted, owner, -1).amax(dim=(2, 3, 4))
    lowest = torch.where(pasted, owner, batch).amin(dim=(2, 3, 4))
    expect(bool(((highest == lowest) | (highest < 0)).all()), f"{what}: an image got pixels from more than one other image",
           hint="each image gets its box from one partner, x[perm[i]]")
    masks = pasted[:, :, 0]
    flat = masks.reshape(calls * batch, *masks.shape[-2:])
    _, _, _, rows_ok = runs(flat.any(dim=2))
    _, _, _, cols_ok = runs(flat.any(dim=1))
    rectangle = (flat == (flat.any(dim=2)[:, :, None] & flat.any(dim=1)[:, None, :])).flatten(1).all(dim=1)
    expect(bool((rows_ok & cols_ok & rectangle).all()), f"{what}: the pasted pixels do not form one rectangle",
           hint="paste one box: a single slice of rows and of columns")
    box = masks.any(dim=1)                         # the batch's box: the union over its images
    used = masks.flatten(2).any(dim=2)
    expect(bool((masks == box[:, None]).flatten(2).all(dim=2)[used].all()),
           f"{what}: images of one batch got different boxes", hint="draw one box per call, for the whole batch")
    partner = torch.where(used, highest, torch.arange(batch)[None, :])
    y0, y1, rows, _ = runs(box.any(dim=2))
    x0, x1, cols, _ = runs(box.any(dim=1))
    return partner, used, (y0, y1, rows, x0, x1, cols)


def check_cutmix_boxes(student, seed):
    """test_cutmix_pastes_one_box_from_one_partner's check on a given seed (tests/test_augmentation_laws.py tries others)."""
    x = cutmix_inputs(6, seed=seed)
    got = mixed(student, "cutmix", x, torch.arange(6), list(range(seed, seed + 30)), alpha=1.0, num_classes=6)
    partner, used, _ = cutmix_boxes(got, x, "cutmix")
    expect(bool(used.any()), "cutmix pasted nothing from another image in 30 calls",
           hint="paste the box from the partner x[perm], not from the image itself")
    expect_permutations(partner[used.any(dim=1)], "cutmix",
                        hint="pair the images with torch.randperm(B): every image is some image's partner")


@points(3, task="cutmix")
def test_cutmix_pastes_one_box_from_one_partner(student):
    """Each photo gets one rectangle from one partner, the same box for the whole batch; partners form a permutation."""
    check_cutmix_boxes(student, seed=20)


def check_cutmix_label_weights(student, seed):
    """test_cutmix_label_weight_is_the_pasted_pixel_fraction's check on a given seed (tests/test_augmentation_laws.py tries others)."""
    x = cutmix_inputs(6, seed=seed)[:, :1]        # one channel: the channels are checked elsewhere
    got = mixed(student, "cutmix", x, torch.arange(6), list(range(seed, seed + 40)), alpha=1.0, num_classes=6)
    partner, used, (y0, y1, rows, x0, x1, cols) = cutmix_boxes(got, x, "cutmix")
    clipped = (rows > 0) & ((y0 == 0) | (y1 == HEIGHT) | (x0 == 0) | (x1 == WIDTH))
    expect(bool(clipped.any()), "cutmix never pasted a box that touches a border in 40 calls",
           hint="the box's centre is uniform over the image, so boxes are often clipped at a border")
    fraction = (rows * cols).double() / (HEIGHT * WIDTH)
    expect_tensor(got.labels[0], "cutmix's y_soft", shape=(6, 6), dtype=torch.float32)
    calls = len(fraction)
    pasted = torch.where(used, fraction[:, None], 0.0).float()
    want = (1.0 - pasted)[:, :, None] * torch.eye(6) + pasted[:, :, None] * torch.eye(6)[partner]
    expect_close(got.labels, want, f"y_soft against the pasted pixel fraction ({calls} calls)",
                 hint="weight the partner's label by the box's area after clipping, divided by H * W, "
                      "not by 1 - lam")


@points(3, task="cutmix")
def test_cutmix_label_weight_is_the_pasted_pixel_fraction(student):
    """The partner's label weight is exactly the fraction of pixels pasted, also when the box is clipped."""
    check_cutmix_label_weights(student, seed=21)


def check_cutmix_aspect_ratio(student, seed):
    """test_cutmix_box_keeps_the_image_aspect_ratio's check on a given seed (tests/test_augmentation_laws.py tries others)."""
    x = cutmix_inputs(4, seed=seed)[:, :1]
    got = mixed(student, "cutmix", x, torch.arange(4), list(range(seed, seed + 40)), alpha=1.0, num_classes=4)
    _, _, (y0, y1, rows, x0, x1, cols) = cutmix_boxes(got, x, "cutmix")
    inside = (rows > 0) & (y0 > 0) & (y1 < HEIGHT) & (x0 > 0) & (x1 < WIDTH)
    expect(bool(inside.any()), "cutmix pasted no box away from the borders in 40 calls")
    gap = (rows[inside] / HEIGHT - cols[inside] / WIDTH).abs().max().item()
    expect(gap <= 1.0 / HEIGHT + 1.0 / WIDTH + 1e-9,
           f"on {HEIGHT} x {WIDTH} photos, a box's height and width are not the same fraction of the image's "
           f"(off by {gap:.2f})",
           hint="cut_h = int(H * ratio) for the rows (dim -2), cut_w = int(W * ratio) for the columns (dim -1)")


@points(1, task="cutmix")
def test_cutmix_box_keeps_the_image_aspect_ratio(student):
    """An unclipped box has height about ratio * H and width about ratio * W, for the same ratio."""
    check_cutmix_aspect_ratio(student, seed=22)


@points(2, task="cutmix")
def test_cutmix_mixes_soft_labels_and_follows_the_generator(student):
    """Soft labels are mixed by the pasted fraction; generators seeded alike give the same result."""
    x = cutmix_inputs(6, seed=23)
    y = torch.softmax(torch.randn(6, 5, generator=torch.Generator().manual_seed(23)), dim=1)
    got = mixed(student, "cutmix", x, y, [0, 1, 2] + list(range(3, 20)), generator_seeds=[7, 7, 8] + [None] * 17,
                alpha=1.0)
    expect_equal(got.images[1], got.images[0], "x_mixed of two calls with generators seeded alike",
                 hint="draw lam, the permutation and the centre from `generator`")
    expect_equal(got.labels[1], got.labels[0], "y_soft of two calls with generators seeded alike")
    expect(not torch.equal(got.images[2], got.images[0]), "generators seeded differently gave the same result")
    partner, used, (_, _, rows, _, _, cols) = cutmix_boxes(got, x, "cutmix")
    pasted = torch.where(used, ((rows * cols).double() / (HEIGHT * WIDTH))[:, None], 0.0).float()
    want = (1.0 - pasted)[:, :, None] * y + pasted[:, :, None] * y[partner]
    expect_close(got.labels, want, "y_soft for soft labels (20 calls)",
                 hint="labels of shape (B, K) are already soft: mix them as they are")


@points(1, task="cutmix")
def test_cutmix_needs_num_classes_for_class_indices(student):
    """Class indices without num_classes raise ValueError."""
    x = cutmix_inputs(4, seed=24)
    expect_raised(student.raises("mix_call", "cutmix", x, torch.arange(4)), ValueError,
                  "cutmix(x, class indices) without num_classes",
                  hint="raise ValueError when y holds class indices and num_classes is None")


# --- soft_cross_entropy -------------------------------------------------------------------------

def loss_of(student, logits, y_soft):
    got = student.run("soft_cross_entropy_call", logits, y_soft)
    expect_tensor(got.loss, "soft_cross_entropy", shape=(), hint="return the batch mean, a 0-dim tensor")
    return got


@points(2, task="soft_cross_entropy")
def test_soft_cross_entropy_hand_computed(student):
    """A worked example: logits [0, 0] against [1/2, 1/2] and [0, ln 3] against [1, 0] give (ln 2 + ln 4) / 2."""
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3.0)]])
    y_soft = torch.tensor([[0.5, 0.5], [1.0, 0.0]])
    got = loss_of(student, logits, y_soft)
    expect_close(got.loss, torch.tensor(1.5 * math.log(2.0)), "the loss of the worked example",
                 hint="the mean over the batch of -sum_k y_soft[:, k] * log_softmax(logits)[:, k]")


@points(2, task="soft_cross_entropy")
def test_soft_cross_entropy_matches_pytorch(student):
    """It equals F.cross_entropy for one-hot labels and for soft labels, and so does its gradient."""
    generator = torch.Generator().manual_seed(30)
    logits = 3.0 * torch.randn(16, 7, generator=generator)
    indices = torch.randint(0, 7, (16,), generator=generator)
    soft = torch.softmax(torch.randn(16, 7, generator=generator), dim=1)
    for name, y_soft, target in (("one-hot", F.one_hot(indices, 7).float(), indices), ("soft", soft, soft)):
        got = loss_of(student, logits, y_soft)
        want_logits = logits.clone().requires_grad_()
        want = F.cross_entropy(want_logits, target)
        want.backward()
        hint = "average over the batch (not the sum), with log_softmax over the classes (dim 1)"
        expect_close(got.loss, want.detach(), f"the loss for {name} labels", hint=hint)
        expect(isinstance(got.grad, torch.Tensor), f"the loss for {name} labels is not differentiable",
               hint="compute it with torch operations on logits, without .item() or .detach()")
        expect_close(got.grad, want_logits.grad, f"the gradient for {name} labels", hint=hint)


@points(1, task="soft_cross_entropy")
def test_soft_cross_entropy_is_stable_for_large_logits(student):
    """Logits in the hundreds give a finite loss, equal to F.cross_entropy's."""
    generator = torch.Generator().manual_seed(31)
    logits = 200.0 * torch.randn(8, 5, generator=generator)
    indices = torch.randint(0, 5, (8,), generator=generator)
    got = loss_of(student, logits, F.one_hot(indices, 5).float())
    expect(bool(torch.isfinite(got.loss)), "the loss of large logits is not finite",
           hint="softmax underflows to 0 and log(0) * 0 is NaN: use F.log_softmax")
    expect_close(got.loss, F.cross_entropy(logits, indices), "the loss of large logits")


# --- build_transforms -----------------------------------------------------------------------------

RANDOM_CLASSES = {"ColorJitter", "AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix", "ElasticTransform",
                  "GaussianBlur", "GaussianNoise", "MixUp", "CutMix", "ScaleJitter", "JPEG"}


def random_steps(description):
    """The names of the random steps of a described pipeline (the student's Cutout included), nested ones too."""
    found = []
    if description["students_cutout"] and description.get("p") != 0:
        found.append("Cutout")
    elif description["type"].startswith("Random") or description["type"] in RANDOM_CLASSES:
        found.append(description["type"])
    for step in description["steps"]:
        found += random_steps(step)
    return found


def pipeline_outputs(student, train, images, seeds, **options):
    got = student.run("apply_pipeline", train, MEAN, STD, IMAGE_SIZE, images, seeds, **options)
    which = "training" if train else "evaluation"
    for row in got.outputs:
        for out in row:
            expect_tensor(out, f"the {which} pipeline's output", shape=(3, IMAGE_SIZE, IMAGE_SIZE),
                          dtype=torch.float32,
                          hint="end with v2.ToDtype(torch.float32, scale=True) and v2.Normalize, after a crop or "
                               "resize to (image_size, image_size); start with v2.ToImage() for PIL images")
    return got.outputs


def constant_image(height, width):
    colour = torch.tensor([77, 150, 200], dtype=torch.uint8)
    return colour[:, None, None].expand(3, height, width).contiguous(), colour


@points(3, task="build_transforms")
def test_eval_pipeline_output_size_dtype_and_normalisation(student):
    """The evaluation pipeline turns any uint8 image into float32 (3, size, size) holding (pixel / 255 - mean) / std."""
    image, colour = constant_image(30, 50)
    outputs = pipeline_outputs(student, False, [image, photo_crops(1, 48, 36, seed=40)[0]], [0])
    want = ((colour.double() / 255.0 - torch.tensor(MEAN, dtype=torch.float64)) / torch.tensor(STD, dtype=torch.float64))
    expect_close(outputs[0][0], want.float()[:, None, None].expand(3, IMAGE_SIZE, IMAGE_SIZE).contiguous(),
                 "the evaluation output of a one-colour image",
                 hint="scale uint8 to [0, 1] (v2.ToDtype(torch.float32, scale=True)), then "
                      "v2.Normalize(mean=mean, std=std): (x - mean) / std, in that order")


@points(3, task="build_transforms")
def test_eval_pipeline_is_deterministic(student):
    """The evaluation pipeline is a v2.Compose with no random step, and gives the same output whatever the seed."""
    got = student.run("describe_pipeline", False, MEAN, STD, IMAGE_SIZE)
    expect(got.is_compose, "build_transforms(False, ...) should return a torchvision.transforms.v2.Compose")
    found = random_steps(got.pipeline)
    expect(not found, f"the evaluation pipeline has random steps: {', '.join(found)}",
           hint="augment the training data only: evaluation measures the model on the images as they are")
    image = photo_crops(1, 30, 50, seed=41)[0]
    outputs = pipeline_outputs(student, False, [image], [0, 1, None, 2])
    for index in range(1, 4):
        expect_equal(outputs[index][0], outputs[0][0], f"the evaluation output of one photo on call {index + 1}",
                     hint="the same image must give the same evaluation output at every call")


@points(2, task="build_transforms")
def test_train_pipeline_output_size_and_dtype(student):
    """The training pipeline turns uint8 images of several sizes into float32 (3, size, size)."""
    images = [photo_crops(1, 30, 50, seed=42)[0], photo_crops(1, 48, 36, seed=43)[0], constant_image(20, 20)[0]]
    outputs = pipeline_outputs(student, True, images, [0, 1])
    expect(all(bool(torch.isfinite(out).all()) for row in outputs for out in row),
           "the training pipeline's output is not finite")


@points(2, task="build_transforms")
def test_train_pipeline_is_random(student):
    """The training pipeline is a v2.Compose with a random step, and the same photo gives different outputs."""
    got = student.run("describe_pipeline", True, MEAN, STD, IMAGE_SIZE)
    expect(got.is_compose, "build_transforms(True, ...) should return a torchvision.transforms.v2.Compose")
    expect(bool(random_steps(got.pipeline)), "the training pipeline has no random step",
           hint="augment the training data: random crops, flips, your Cutout...")
    image = photo_crops(1, 30, 50, seed=44)[0]
    outputs = [row[0] for row in pipeline_outputs(student, True, [image], [0, 1, 2, 3])]
    distinct = len({tuple(out.flatten().tolist()) for out in outputs})
    expect(distinct >= 3, f"4 calls of the training pipeline on one photo gave only {distinct} different outputs",
           hint="every call should draw new random parameters")


@points(1, task="build_transforms")
def test_pipelines_accept_pil_images(student):
    """Both pipelines take PIL images too; evaluation gives the same output for a PIL image and its tensor."""
    image = photo_crops(1, 30, 50, seed=45)[0]
    tensor_out = pipeline_outputs(student, False, [image], [0])[0][0]
    pil_out = pipeline_outputs(student, False, [image], [0], as_pil=True)[0][0]
    gap = (pil_out - tensor_out).abs().max().item()
    expect(gap <= 4.0 / 255.0 / min(STD), f"the evaluation outputs of a PIL image and of its tensor differ by {gap:.3f}",
           hint="start with v2.ToImage(), which turns both into the same tensor")
    pipeline_outputs(student, True, [image], [0], as_pil=True)
