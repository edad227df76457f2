"""Hidden graders for the augmentation exercise.

Augmentations are random, and a correct submission may draw its random numbers in another order
than the reference, so no test compares pixels with a seeded answer. Each recovers what was done
from the output (the hole, the box, each image's partner, lam) and checks it against the laws
(shared/FACTS.md): holes and boxes are one clipped rectangle, images and labels agree on lam and
partner, and the laws of the hole and box centres, of Cutout's p and of lam hold. Where a check
is statistical, its docstring states the probability that a correct submission fails it on the
graded seeds (every sub-check counted), always below 1e-6: laws of the empirical distribution
use the Dvoretzky-Kiefer-Wolfowitz bound (Massart's constant, valid for any distribution) at
1e-9 per distribution. CutMix's box size is checked exactly, on lam values the grader chooses
(the module's sample_beta returns them during that scenario) so that H * ratio and W * ratio
lie at least 0.15 from an integer: float32 rounding cannot move a correct box by a row.

One mistake costs the points of its task only: cutmix runs with a known-good `_soft_labels` (a
helper of mixup's task) and build_transforms with a known-good `Cutout` (see the scenarios).
A side property (the input is unchanged, a copy is returned, an error is raised) pays only
together with the behaviour it accompanies. Test images are crops of scikit-learn's sample photos
and its digits. Everything else is compared with PyTorch (F.cross_entropy) or hand-computed
values, in this trusted process.
"""

import math

import torch
import torch.nn.functional as F

from coursekit.datasets import digit_images, photo_crops
from coursekit.grading.api import exercise, expect, expect_close, expect_equal, expect_raised, expect_tensor, points

pytestmark = exercise("augmentation")

HEIGHT, WIDTH = 24, 40              # H != W: swapped axes show
FILL = -1.0                         # never a pixel of a test image, so the hole is exactly the fill
FALSE_ALARM = 1e-9                  # of each distribution law's bound, for a correct submission
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


def expect_uniform(values, length, what, hint):
    """The integers `values` follow the uniform law on 0 .. length - 1 (DKW at FALSE_ALARM)."""
    expect(bool(((values >= 0) & (values < length)).all()), f"{what}: some lie outside 0 .. {length - 1}", hint=hint)
    counts = torch.bincount(values, minlength=length).double()
    gap = (counts.cumsum(0) / len(values) - torch.arange(1, length + 1, dtype=torch.float64) / length).abs().max()
    expect(gap.item() <= dkw_bound(len(values)),
           f"{what} are not uniform over 0 .. {length - 1} (distribution off by {gap.item():.3f} after "
           f"{len(values)} draws)", hint=hint)


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
           hint="cut one square per call, with a single slice of rows and of columns, in a copy of x (erasing "
                "in x itself piles up the holes of successive calls)")
    return row_first, row_end, rows, col_first, col_end, cols


def cutout(student, x, size, calls, seed, **options):
    got = student.run("cutout_calls", x, size, calls, seed, **options)
    expect(isinstance(got.outs, torch.Tensor) and got.outs.dim() == x.dim() + 1,
           "Cutout should return a tensor of its input's shape at every call",
           hint="forward(x) returns a new tensor of x's shape: x with one square set to `fill`")
    return got


def expect_a_hole_at_every_call(rows, cols, size, what):
    """With p = 1, every call erased a non-empty rectangle of at most size x size: Cutout did its job."""
    expect(bool(((rows > 0) & (cols > 0)).all()), f"{what} with p = 1 left some images without a hole",
           hint="with p = 1 every call sets one square (clipped at the borders) to `fill`")
    expect(bool(((rows <= size) & (cols <= size)).all()),
           f"{what}: some holes are larger than {size} x {size} (one was {int(rows.max())} x {int(cols.max())})",
           hint="the hole is rows cy - size // 2 up to cy - size // 2 + size (end excluded), columns likewise, "
                "clipped to the image")


def check_interior_holes(student, seed):
    """test_cutout_interior_hole_is_a_size_by_size_square's check on a given seed
    (tests/test_augmentation_laws.py tries others).

    A correct Cutout fails it only if no hole of 100 lies away from the borders: below 1e-33 for
    either size (a hole is interior for more than half of the centres).
    """
    for size, size_seed in ((7, seed), (6, seed + 1)):
        x = photos(1, size_seed)[0, :1]            # one channel: the channels have a test of their own
        got = cutout(student, x, size, 100, size_seed, fill=FILL)
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


def side_ok(first, end, count, size, length):
    """A side of a hole centred anywhere in the image: size inside, cut short (not below half) at a border."""
    interior = (first > 0) & (end < length)
    return torch.where(interior, count == size, (count <= size) & (count >= min(size - size // 2, length)))


def check_clipped_holes(student, seed):
    """test_cutout_hole_is_clipped_at_the_borders's check on a given seed (tests/test_augmentation_laws.py tries
    others).

    A correct Cutout fails it only if no hole of 200 reaches one of the borders (the side checks
    are exact): 5.0e-12 (a 9 x 9 hole reaches the top for 5 of 24 centre rows, the left for 5 of
    40 centre columns).
    """
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
           hint="the centre may be any pixel; the square is cut short where it crosses a border (a negative "
                "start index, unclipped, counts from the end)")
    for name, touched in (("top", y0 == 0), ("bottom", y1 == HEIGHT), ("left", x0 == 0), ("right", x1 == WIDTH)):
        expect(bool(touched.any()), f"Cutout({size}): no hole reached the {name} border in 200 calls",
               hint="draw the centre over the whole image, borders included, not only where the square fits; "
                    "rows are dim -2 (H), columns dim -1 (W)")


@points(2, task="Cutout")
def test_cutout_hole_is_clipped_at_the_borders(student):
    """Near a border the hole is cut short, never moved inside or lost: every call erases part of the square."""
    check_clipped_holes(student, seed=3)


@points(2, task="Cutout")
def test_cutout_hole_is_the_fill_value_on_every_channel(student):
    """The hole is `fill` on every channel, at most size x size, and on a batch the same hole is cut in every image."""
    x = photos(2, 4)
    got = cutout(student, x, 8, 40, 4, fill=0.5)
    _, _, rows, _, _, cols = holes(got.outs, x, 0.5, "Cutout(8, fill=0.5) on a batch of 2 RGB images")
    expect(bool(((rows > 0) & (cols > 0)).all()), "Cutout(8, fill=0.5) left some images without a hole set to 0.5",
           hint="write `fill` (not 0) into the square, on every channel")
    expect_a_hole_at_every_call(rows, cols, 8, "Cutout(8, fill=0.5)")


def check_uniform_centres(student, seed):
    """test_cutout_hole_centres_are_uniform_over_the_image's check on a given seed
    (tests/test_augmentation_laws.py tries others).

    A correct Cutout fails it with probability 2e-9: the DKW bound at 1e-9 for each of the two
    axes (the centre is read back exactly from each clipped hole).
    """
    size, calls, height, width = 5, 1000, 12, 20
    x = photos(1, seed, height, width)[0, :1]
    got = cutout(student, x, size, calls, seed, fill=FILL)
    y0, y1, rows, x0, x1, cols = holes(got.outs, x, FILL, f"Cutout({size})")
    expect(bool(((rows > 0) & (cols > 0)).all()), f"Cutout({size}) with p = 1 left some images without a hole")
    for axis, first, end, length in (("row", y0, y1, height), ("column", x0, x1, width)):
        top = torch.where(first > 0, first, end - size)
        expect_uniform(top + size // 2, length, f"Cutout({size}): the {axis}s of the hole centres",
                       hint=f"draw the centre's {axis} with torch.randint over all {axis}s of the image (dim "
                            f"{'-2' if axis == 'row' else '-1'}), borders included, and start the square at "
                            "centre - size // 2")


@points(2, task="Cutout")
def test_cutout_hole_centres_are_uniform_over_the_image(student):
    """The hole's centre is uniform over every row and every column, borders included."""
    check_uniform_centres(student, seed=5)


def check_cutout_probability(student, seed):
    """test_cutout_applies_with_probability_p's check on a given seed (tests/test_augmentation_laws.py tries others).

    A correct Cutout fails it with probability 4.5e-9: 66 to 174 holes in 400 calls pass (six
    standard deviations), and the binomial law's two tails beyond them hold 4.5e-9.
    """
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
def test_cutout_p_zero_returns_a_copy(student):
    """With p = 0 every output is a new tensor equal to x (while p = 1 cuts a hole at every call)."""
    x = photos(1, 7)[0]
    cutting = cutout(student, x, 6, 5, 7, fill=FILL)
    _, _, rows, _, _, cols = holes(cutting.outs, x, FILL, "Cutout(6)")
    expect_a_hole_at_every_call(rows, cols, 6, "Cutout(6)")
    got = cutout(student, x, 6, 20, 7, p=0.0, fill=FILL)
    expect_equal(got.outs, x.expand(20, *x.shape).contiguous(), "Cutout(6, p=0) on 20 calls",
                 hint="with probability 1 - p, return the image unchanged")
    expect(got.outs_new, "Cutout(6, p=0) returned x itself (or a view of it), not a new tensor",
           hint="return x.clone() when no hole is cut: the caller may change the result")


@points(1, task="Cutout")
def test_cutout_leaves_its_input_untouched(student):
    """Cutout cuts its hole in a new tensor and leaves its input unchanged."""
    x = photos(1, 8)[0]
    got = cutout(student, x, 8, 3, 8, fill=FILL)
    expect(got.x_unchanged, "Cutout changed its input tensor",
           hint="clone x first (out = x.clone()) and erase in the copy")
    _, _, rows, _, _, cols = holes(got.outs, x, FILL, "Cutout(8)")
    expect_a_hole_at_every_call(rows, cols, 8, "Cutout(8)")


@points(1, task="Cutout")
def test_cutout_draws_from_torchs_global_rng(student):
    """torch.manual_seed repeats Cutout's holes, and another seed gives other holes."""
    x = photos(1, 9)[0, :1]
    got = student.run("cutout_seeded_runs", x, 6, 10, [9, 9, 10], fill=FILL)
    expect(isinstance(got.runs, torch.Tensor) and got.runs.shape == (3, 10, *x.shape),
           "Cutout should return a tensor of its input's shape at every call")
    _, _, rows, _, _, cols = holes(got.runs[0], x, FILL, "Cutout(6)")
    expect_a_hole_at_every_call(rows, cols, 6, "Cutout(6)")
    hint = ("draw p's uniform and the centre from torch's global RNG (torch.rand, torch.randint without a "
            "generator), not from Python's random or a generator of your own")
    expect_equal(got.runs[1], got.runs[0], "the holes of two runs after torch.manual_seed(9)", hint=hint)
    # A correct Cutout cuts the same 10 holes under two seeds with probability below (1 / 960) ** 10.
    expect(not torch.equal(got.runs[2], got.runs[0]),
           "runs after torch.manual_seed(9) and torch.manual_seed(10) cut the same holes", hint=hint)


# --- mixup and cutmix: recovering lam and partners --------------------------------------------

def mixed(student, function, x, y, seeds, **options):
    got = student.run("mix_calls", function, x, y, seeds, **options)
    return expect_pairs(got, function, x, len(seeds))


def expect_pairs(got, function, x, calls):
    expect(isinstance(got.images, torch.Tensor) and isinstance(got.labels, torch.Tensor)
           and got.images.shape[0] == calls and got.images.dim() == x.dim() + 1,
           f"{function} should return (x_mixed, y_soft), two tensors",
           hint="return a tuple (x_mixed, y_soft), x_mixed of x's shape, y_soft of shape (B, K)")
    expect_tensor(got.images[0], f"{function}'s x_mixed", shape=x.shape, dtype=x.dtype,
                  hint="x_mixed has x's shape and dtype")
    return got


def labels_from_index_labels(labels, batch, function, dtype=torch.float32):
    """With y = 0 .. B - 1 and K = B, each soft label row names the image's own weight and its partner."""
    expect_tensor(labels[0], f"{function}'s y_soft", shape=(batch, batch), dtype=dtype,
                  hint="y_soft has shape (B, num_classes) and x's dtype")
    own = labels.diagonal(dim1=1, dim2=2)
    others = labels.clone()
    others.diagonal(dim1=1, dim2=2).fill_(-1.0)
    partner = torch.where(own < 1.0 - 1e-6, others.argmax(dim=2), torch.arange(batch).expand_as(own))
    return own, partner


def expect_mixture(got, x, what, hint):
    """x_mixed is lam * x + (1 - lam) * x[partner], with each image's lam and partner read from y_soft
    (y = 0 .. B - 1, K = B), and some image of some call is really mixed. Returns (lam, partner).

    A correct mixup mixes no image in any of N calls with probability (1 / B! + P(lam > 1 - 1e-6)) ** N,
    below 1e-20 for B = 8 and N >= 5 with alpha = 1.
    """
    batch = x.shape[0]
    own, partner = labels_from_index_labels(got.labels, batch, what, dtype=x.dtype)
    expect(bool((own < 1.0 - 1e-6).any()), f"{what}: no image was mixed with another in {len(own)} calls",
           hint="draw lam = sample_beta(alpha, generator) and perm = torch.randperm(B, generator=generator) at every "
                "call, and mix x with x[perm]")
    lam = own.reshape(*own.shape, *[1] * (x.dim() - 1))
    want = lam * x + (1.0 - lam) * x[partner]
    expect_close(got.images, want, f"{what}: x_mixed, against lam and the partner read from y_soft ({len(own)} calls)",
                 hint=hint)
    return own, partner


MIXTURE_HINT = ("mix images and labels with the same lam and the same permutation: x[perm] with lam, "
                "onehot(y)[perm] with the same lam (the image's own label gets lam); and mix into new tensors, "
                "never into x itself, which every call gets again")


@points(3, task="mixup")
def test_mixup_images_and_labels_use_the_same_lam_and_partner(student):
    """Each digit is lam times itself plus (1 - lam) times its partner, and its label is mixed with the same lam
    and partner."""
    x, _ = digit_images(8, seed=10)
    y = torch.arange(8)                  # a class per image: the soft label names the partner
    got = mixed(student, "mixup", x, y, list(range(20)), alpha=1.0, num_classes=8)
    own, _ = expect_mixture(got, x, "mixup", MIXTURE_HINT)  # fails a correct mixup with probability below 1e-80
    mixed_rows = own < 1.0 - 1e-6
    lam_per_call = torch.where(mixed_rows, own, torch.inf).min(dim=1).values
    spread = torch.where(mixed_rows, (own - lam_per_call[:, None]).abs(), 0.0).max().item()
    expect(spread <= 1e-5, "some images of one batch were mixed with different lam",
           hint="draw one lam per call (per batch), not one per image")


def check_mixup_partners(student, seed):
    """test_mixup_partners_come_from_a_random_permutation's check on a given seed
    (tests/test_augmentation_laws.py tries others).

    A correct mixup fails it only if all 30 permutations of 8 are the identity, or if fewer than
    20 of them differ (eleven coincidences among 30 draws from 40320): below 1e-29.
    """
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


def expect_permutations(partner, what, hint):
    batch = partner.shape[1]
    sorted_partners = partner.sort(dim=1).values
    expect(bool((sorted_partners == torch.arange(batch)).all()),
           f"{what}: in some calls two images got the same partner", hint=hint)


@points(2, task="mixup")
def test_mixup_partners_come_from_a_random_permutation(student):
    """The partners form a permutation of the batch, and a new one is drawn at every call."""
    check_mixup_partners(student, seed=0)


@points(1, task="mixup")
def test_mixup_soft_labels_sum_to_one(student):
    """With digit labels and num_classes = 10, y_soft is (B, 10) in x's dtype, non-negative rows summing to 1
    mixing two classes.

    A correct mixup mixes no two classes in 10 calls only if every lam lies within 1e-6 of 0 or 1
    or every permutation pairs equal digits: below 1e-50.
    """
    x, y = digit_images(12, seed=11)
    got = mixed(student, "mixup", x, y, list(range(10)), alpha=1.0, num_classes=10)
    hint = "y_soft = lam * onehot(y) + (1 - lam) * onehot(y[perm]), one-hot rows of width num_classes"
    expect_tensor(got.labels[0], "mixup's y_soft", shape=(12, 10), dtype=torch.float32,
                  hint="y_soft has shape (B, num_classes) and x's dtype")
    expect(bool((got.labels >= 0).all()), "y_soft has negative entries", hint=hint)
    expect_close(got.labels.sum(dim=2), torch.ones(10, 12), "the row sums of y_soft", hint=hint)
    between = (got.labels > 1e-6) & (got.labels < 1.0 - 1e-6)
    expect(bool(between.any()), "in 10 calls, no label of y_soft mixed two classes",
           hint="mix the labels too: each row gives lam to the image's own class and 1 - lam to its partner's")


@points(1, task="mixup")
def test_mixup_leaves_its_inputs_untouched(student):
    """mixup leaves x and y unchanged (and mixes the images)."""
    x, _ = digit_images(8, seed=18)
    got = mixed(student, "mixup", x, torch.arange(8), list(range(5)), alpha=1.0, num_classes=8)
    # expect_mixture fails a correct mixup with probability below 1e-20 (five calls); the rest is exact.
    expect(got.inputs_unchanged, "mixup changed x or y", hint="build new tensors; never mix in place (x.mul_, +=)")
    expect_mixture(got, x, "mixup", MIXTURE_HINT)


@points(1, task="mixup")
def test_mixup_works_on_any_shape_and_keeps_x_dtype(student):
    """On float64 features (B, D), x_mixed is the float64 mixture and y_soft is (B, K) in float64 too."""
    x, _ = digit_images(8, seed=17)
    x = x.reshape(8, 64).double()      # expect_mixture fails a correct mixup with probability below 1e-20
    got = mixed(student, "mixup", x, torch.arange(8), list(range(5)), alpha=1.0, num_classes=8)
    expect_mixture(got, x, "mixup on (8, 64) float64 features",
                   hint="index the batch with x[perm], which works for any number of dims, and compute in x's "
                        "dtype; y_soft too: _soft_labels(y, num_classes, x.dtype)")


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
    """The lam follow Beta(alpha, alpha) within the DKW bound at 1e-9.

    Two things move a correct submission's distance from the law by a known amount: float32
    images round lam to float32, which shifts the distribution function by at most the mass of
    half a float32 step (1.6e-2 just below 1 for alpha = 0.2, 3e-8 for alpha = 1), and a call
    whose permutation is the identity (1 in 40320) reads as lam = 1, 1 / 600 each. Summed over
    the number of such calls, a correct submission fails with probability 1.4e-7 for alpha = 0.2
    and 1.0e-9 for alpha = 1.
    """
    distance = ks_distance(lams, lambda points: symmetric_beta_cdf(points, alpha))
    expect(distance <= dkw_bound(len(lams)),
           f"with alpha = {alpha}, the lam of {len(lams)} calls do not follow Beta({alpha}, {alpha}): "
           f"their distribution is off by {distance:.3f}",
           hint="draw lam = sample_beta(alpha, generator), once per call, and use it as drawn "
                "(it is the weight of each image itself, 1 - lam that of its partner)")


@points(1, task="mixup")
def test_mixup_lam_follows_beta_with_alpha_02(student):
    """With alpha = 0.2, lam follows Beta(0.2, 0.2): most mixtures are close to one of the two images."""
    expect_beta_law(mixup_lams(student, 0.2, seed=12), 0.2)


@points(1, task="mixup")
def test_mixup_lam_follows_beta_with_alpha_1(student):
    """With alpha = 1, lam follows Beta(1, 1), the uniform law on [0, 1]."""
    expect_beta_law(mixup_lams(student, 1.0, seed=13), 1.0)


@points(2, task="mixup")
def test_mixup_generator_makes_it_reproducible(student):
    """With a generator, the result depends on its seed alone; without one, torch.manual_seed repeats it."""
    x, y = digit_images(8, seed=14)
    got = mixed(student, "mixup", x, y, [0, 1, 2], generator_seeds=[7, 7, 8], alpha=1.0, num_classes=10)
    hint = ("draw lam and the permutation from `generator` (sample_beta(alpha, generator), "
            "torch.randperm(..., generator=generator))")
    expect_equal(got.images[1], got.images[0], "x_mixed of two calls with generators seeded alike", hint=hint)
    expect_equal(got.labels[1], got.labels[0], "y_soft of two calls with generators seeded alike", hint=hint)
    # A correct mixup gives two generators' calls the same x_mixed only if both permutations are the
    # identity or both lam round to 1: (1 / 40320 + 3e-8) ** 2 = 6.2e-10.
    expect(not torch.equal(got.images[2], got.images[0]), "generators seeded differently gave the same mixture",
           hint=hint)
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
    # A correct mixup mixes no image in 10 calls with probability (1 / 40320 + 1e-6) ** 10 < 1e-45.
    expect(bool((own < 1.0 - 1e-6).any()), "mixup: no image was mixed with another in 10 calls",
           hint="mix x with x[perm], with lam = sample_beta(alpha, generator)")
    want = own[:, :, None] * y + (1.0 - own[:, :, None]) * y[partner]
    expect_close(got.labels, want, "y_soft for soft labels (10 calls)",
                 hint="labels of shape (B, K) are already soft: mix them as they are, like the images")


@points(1, task="mixup")
def test_mixup_needs_num_classes_for_class_indices(student):
    """Class indices without num_classes raise ValueError (and with num_classes, the call mixes)."""
    x, _ = digit_images(8, seed=16)
    got = mixed(student, "mixup", x, torch.arange(8), list(range(5)), alpha=1.0, num_classes=8)
    expect_mixture(got, x, "mixup", MIXTURE_HINT)           # fails a correct mixup with probability below 1e-20
    expect_raised(student.raises("mix_call", "mixup", x[:4], torch.arange(4)), ValueError,
                  "mixup(x, class indices) without num_classes",
                  hint="the number of classes cannot be guessed from one batch: raise ValueError when it is missing "
                       "(in _soft_labels, which mixup calls)")


def cutmix_inputs(batch, seed, dtype=torch.float32):
    """Photo crops, image i shifted to [2i, 2i + 1]: every pixel tells which image it came from."""
    return photos(batch, seed).to(dtype) + 2.0 * torch.arange(batch, dtype=dtype)[:, None, None, None]


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
    expect(bool(((highest == lowest) | (highest < 0)).all()),
           f"{what}: an image got pixels from more than one other image",
           hint="each image gets its box from one partner, x[perm[i]], pasted into a copy of x (pasting into x "
                "itself carries the boxes of earlier calls over)")
    masks = pasted[:, :, 0]
    flat = masks.reshape(calls * batch, *masks.shape[-2:])
    _, _, _, rows_ok = runs(flat.any(dim=2))
    _, _, _, cols_ok = runs(flat.any(dim=1))
    rectangle = (flat == (flat.any(dim=2)[:, :, None] & flat.any(dim=1)[:, None, :])).flatten(1).all(dim=1)
    expect(bool((rows_ok & cols_ok & rectangle).all()), f"{what}: the pasted pixels do not form one rectangle",
           hint="paste one box: a single slice of rows and of columns, into a copy of x (pasting into x itself "
                "piles up the boxes of successive calls)")
    box = masks.any(dim=1)                         # the batch's box: the union over its images
    used = masks.flatten(2).any(dim=2)
    expect(bool((masks == box[:, None]).flatten(2).all(dim=2)[used].all()),
           f"{what}: images of one batch got different boxes", hint="draw one box per call, for the whole batch")
    partner = torch.where(used, highest, torch.arange(batch)[None, :])
    y0, y1, rows, _ = runs(box.any(dim=2))
    x0, x1, cols, _ = runs(box.any(dim=1))
    return partner, used, (y0, y1, rows, x0, x1, cols)


def expect_pasting(got, x, what):
    """cutmix's boxes (cutmix_boxes), of which some call really pasted one from a partner.

    A correct cutmix (B = 6, alpha = 1) pastes nothing in a call only if the box is empty
    (1 - lam < 1 / 576) or the permutation the identity (1 / 720): 0.0031 per call, 0.0031 ** N in N calls.
    """
    partner, used, box = cutmix_boxes(got, x, what)
    expect(bool(used.any()), f"{what} pasted nothing from another image in {used.shape[0]} calls",
           hint="paste the box from the partner x[perm], not from the image itself, with the box size from "
                "lam = sample_beta(alpha, generator)")
    return partner, used, box


def check_cutmix_boxes(student, seed):
    """test_cutmix_pastes_one_box_from_one_partner's check on a given seed (tests/test_augmentation_laws.py tries
    others).

    Exact, but for pasting something in 30 calls: a correct cutmix fails with probability 0.0031 ** 30, below 1e-70.
    """
    x = cutmix_inputs(6, seed=seed)
    got = mixed(student, "cutmix", x, torch.arange(6), list(range(seed, seed + 30)), alpha=1.0, num_classes=6)
    partner, used, _ = expect_pasting(got, x, "cutmix")
    expect_permutations(partner[used.any(dim=1)], "cutmix",
                        hint="pair the images with torch.randperm(B): every image is some image's partner")


@points(2, task="cutmix")
def test_cutmix_pastes_one_box_from_one_partner(student):
    """Each photo gets one rectangle from one partner, the same box for the whole batch; partners form a permutation."""
    check_cutmix_boxes(student, seed=20)


def check_cutmix_label_weights(student, seed):
    """test_cutmix_label_weight_is_the_pasted_pixel_fraction's check on a given seed
    (tests/test_augmentation_laws.py tries others).

    Exact, but for a clipped box in 40 calls: a correct cutmix pastes a box that touches a border
    with probability 0.843 per call (alpha = 1, 24 x 40 images), so fails with probability 0.157 ** 40 < 1e-32.
    """
    x = cutmix_inputs(6, seed=seed)[:, :1]        # one channel: the channels are checked elsewhere
    got = mixed(student, "cutmix", x, torch.arange(6), list(range(seed, seed + 40)), alpha=1.0, num_classes=6)
    partner, used, (y0, y1, rows, x0, x1, cols) = cutmix_boxes(got, x, "cutmix")
    clipped = (rows > 0) & ((y0 == 0) | (y1 == HEIGHT) | (x0 == 0) | (x1 == WIDTH))
    expect(bool(clipped.any()), "cutmix never pasted a box that touches a border in 40 calls",
           hint="the box's centre is uniform over the image, so boxes are often clipped at a border")
    fraction = (rows * cols).double() / (HEIGHT * WIDTH)
    expect_tensor(got.labels[0], "cutmix's y_soft", shape=(6, 6), dtype=torch.float32,
                  hint="y_soft has shape (B, num_classes) and x's dtype")
    calls = len(fraction)
    pasted = torch.where(used, fraction[:, None], 0.0).float()
    want = (1.0 - pasted)[:, :, None] * torch.eye(6) + pasted[:, :, None] * torch.eye(6)[partner]
    expect_close(got.labels, want, f"y_soft against the pasted pixel fraction ({calls} calls)",
                 hint="weight the partner's label by the box's area after clipping, divided by H * W, "
                      "not by 1 - lam; and the image's own label by 1 minus that")


@points(3, task="cutmix")
def test_cutmix_label_weight_is_the_pasted_pixel_fraction(student):
    """The partner's label weight is exactly the fraction of pixels pasted, also when the box is clipped."""
    check_cutmix_label_weights(student, seed=21)


# The box size is checked on lam that the grader chooses (see the scenario cutmix_scripted_calls):
# lam = 1 - ratio ** 2 with H * ratio and W * ratio (H, W = 24, 40) at least 0.15 from an integer,
# so that int(H * ratio) and int(W * ratio) are the same whatever the rounding of a correct ratio.
BOX_RATIOS = (0.23, 0.31, 0.39, 0.47, 0.56, 0.66, 0.86, 0.16, 0.52, 0.73)
# For the centres: boxes just under half the image's height and width (11 x 18 and 11 x 19), cut
# short at one border at most, so that the centre can be read back from the box, and wide enough
# that centres drawn only where the box fits miss a fifth of the rows and columns.
CENTRE_RATIOS = (0.47, 0.48)
SCRIPTED_HINT = ("draw lam = sample_beta(alpha, generator) once per call, with the alpha and the generator cutmix "
                 "was given")


def scripted_cutmix(student, x, ratios, seed, alpha):
    """cutmix on x (labels 0 .. B - 1) with lam = 1 - ratio ** 2 given by sample_beta, one call per ratio;
    checks that every call drew its lam with sample_beta(alpha, generator)."""
    lams = [1.0 - ratio * ratio for ratio in ratios]
    got = student.run("cutmix_scripted_calls", x, torch.arange(x.shape[0]), lams,
                      list(range(seed, seed + len(lams))), alpha=alpha, num_classes=x.shape[0])
    expect_pairs(got, "cutmix", x, len(lams))
    expect(all(len(draws) > 0 for draws in got.draws),
           "cutmix did not draw lam with sample_beta(alpha, generator) in every call", hint=SCRIPTED_HINT)
    expect(all(alpha_given == alpha for draws in got.draws for alpha_given, _ in draws),
           f"cutmix(..., alpha={alpha}) called sample_beta with another alpha", hint=SCRIPTED_HINT)
    expect(all(same for draws in got.draws for _, same in draws),
           "cutmix did not pass its generator to sample_beta", hint=SCRIPTED_HINT)
    return got


def clipped_sides(cut, length):
    """Every (start, end) that a side of `cut` pixels, centred on any pixel and clipped to the image, has."""
    return {(max(centre - cut // 2, 0), min(centre - cut // 2 + cut, length)) for centre in range(length)}


def check_cutmix_box_sizes(student, seed):
    """test_cutmix_box_is_int_ratio_h_by_int_ratio_w's check on a given seed (tests/test_augmentation_laws.py
    tries others).

    Exact: a correct cutmix passes it surely (the lam are chosen so that rounding cannot move a
    side by a pixel; a call shows no box only if its permutation is the identity, and all 20 do
    with probability 720 ** -20).
    """
    ratios = BOX_RATIOS * 2
    x = cutmix_inputs(6, seed=seed)[:, :1]
    got = scripted_cutmix(student, x, ratios, seed, alpha=0.4)
    _, used, (y0, y1, rows, x0, x1, cols) = expect_pasting(got, x, "cutmix")
    shown = used.any(dim=1).nonzero().flatten().tolist()
    wrong = []
    for call in shown:
        cut_h, cut_w = int(HEIGHT * ratios[call]), int(WIDTH * ratios[call])
        if ((int(y0[call]), int(y1[call])) not in clipped_sides(cut_h, HEIGHT)
                or (int(x0[call]), int(x1[call])) not in clipped_sides(cut_w, WIDTH)):
            wrong.append(f"{int(rows[call])} x {int(cols[call])} where a {cut_h} x {cut_w} box, clipped, was due")
    example = wrong[0] if wrong else ""
    expect(not wrong, f"cutmix on {HEIGHT} x {WIDTH} images: {len(wrong)} of {len(shown)} boxes are not "
                      f"int(H * ratio) x int(W * ratio) boxes clipped to the image (one was {example})",
           hint="ratio = sqrt(1 - lam); cut_h = int(H * ratio) rows (dim -2), cut_w = int(W * ratio) columns (dim -1); "
                "rows cy - cut_h // 2 up to (not including) cy - cut_h // 2 + cut_h, columns likewise, clipped")


@points(2, task="cutmix")
def test_cutmix_box_is_int_ratio_h_by_int_ratio_w(student):
    """The box is int(H * ratio) x int(W * ratio), ratio = sqrt(1 - lam), lam = sample_beta(alpha, generator),
    then clipped."""
    check_cutmix_box_sizes(student, seed=22)


def check_cutmix_centres(student, seed):
    """test_cutmix_box_centres_are_uniform_over_the_image's check on a given seed
    (tests/test_augmentation_laws.py tries others).

    A correct cutmix fails it with probability 2e-9: the DKW bound at 1e-9 for each of the two
    axes, over the calls whose box shows (the permutation, which hides a box when it is the
    identity, is drawn apart from the centre); that no box shows in 400 calls has probability 24 ** -400.
    """
    ratios = torch.tensor([CENTRE_RATIOS[call % len(CENTRE_RATIOS)] for call in range(400)], dtype=torch.float64)
    x = cutmix_inputs(4, seed=seed)[:, :1]
    got = scripted_cutmix(student, x, ratios.tolist(), seed, alpha=1.0)
    _, used, (y0, y1, _, x0, x1, _) = expect_pasting(got, x, "cutmix")
    shown = used.any(dim=1)
    for axis, first, end, length in (("row", y0, y1, HEIGHT), ("column", x0, x1, WIDTH)):
        # The box's side as this cutmix cuts it for each lam (a box of another size is the size test's
        # business): the commonest length of the sides that no border cuts short.
        cut = (length * ratios).long()
        for ratio in CENTRE_RATIOS:
            whole = shown & (ratios == ratio) & (first > 0) & (end < length)
            if whole.any():
                cut[ratios == ratio] = (end - first)[whole].mode().values
        start = torch.where(first > 0, first, end - cut)
        expect_uniform((start + cut // 2)[shown], length, f"cutmix: the {axis}s of the box centres",
                       hint=f"draw the centre's {axis} with torch.randint(generator=generator) over all {axis}s of "
                            f"the image (dim {'-2' if axis == 'row' else '-1'}), borders included, and start the box "
                            f"at centre - cut // 2 (the centre is read back from the box that way)")


@points(1, task="cutmix")
def test_cutmix_box_centres_are_uniform_over_the_image(student):
    """The box's centre is uniform over every row and every column, borders included."""
    check_cutmix_centres(student, seed=27)


@points(1, task="cutmix")
def test_cutmix_mixes_soft_labels(student):
    """Soft labels (B, K) are mixed as they are, by the pasted pixel fraction."""
    x = cutmix_inputs(6, seed=23)
    y = torch.softmax(torch.randn(6, 5, generator=torch.Generator().manual_seed(23)), dim=1)
    got = mixed(student, "cutmix", x, y, list(range(23, 43)), alpha=1.0)
    # A correct cutmix pastes nothing in 20 calls with probability 0.0031 ** 20 < 1e-50; the rest is exact.
    partner, used, (_, _, rows, _, _, cols) = expect_pasting(got, x, "cutmix")
    pasted = torch.where(used, ((rows * cols).double() / (HEIGHT * WIDTH))[:, None], 0.0).float()
    want = (1.0 - pasted)[:, :, None] * y + pasted[:, :, None] * y[partner]
    expect_close(got.labels, want, "y_soft for soft labels (20 calls)",
                 hint="labels of shape (B, K) are already soft: mix them as they are, by the pasted fraction of "
                      "pixels after clipping")


@points(1, task="cutmix")
def test_cutmix_follows_the_generator(student):
    """With a generator, the result depends on its seed alone; without one, torch.manual_seed repeats it."""
    x = cutmix_inputs(6, seed=25)
    y = torch.arange(6)
    got = mixed(student, "cutmix", x, y, [0, 1, 2, 3, 4], generator_seeds=[7, 7, 8, 9, 10], alpha=1.0, num_classes=6)
    hint = "draw lam, the permutation and the centre from `generator`"
    expect_equal(got.images[1], got.images[0], "x_mixed of two calls with generators seeded alike", hint=hint)
    expect_equal(got.labels[1], got.labels[0], "y_soft of two calls with generators seeded alike", hint=hint)
    # A correct cutmix gives four generators' calls the same x_mixed only if all four leave x as it is
    # (0.0031 ** 4) or three repeat the first one's permutation and box ((1 / 720) ** 3): 2.8e-9.
    expect(any(not torch.equal(got.images[call], got.images[0]) for call in (2, 3, 4)),
           "generators seeded differently gave the same result", hint=hint)
    again = mixed(student, "cutmix", x, y, [3, 3], alpha=1.0, num_classes=6)
    expect_equal(again.images[1], again.images[0], "x_mixed of two calls after torch.manual_seed(3)",
                 hint="with generator=None, draw from torch's global RNG")


@points(1, task="cutmix")
def test_cutmix_keeps_x_dtype_and_leaves_its_inputs_untouched(student):
    """On float64 photos, x_mixed and y_soft are float64, x and y are left unchanged, and boxes are pasted."""
    x = cutmix_inputs(6, seed=26, dtype=torch.float64)
    got = mixed(student, "cutmix", x, torch.arange(6), list(range(26, 36)), alpha=1.0, num_classes=6)
    expect(got.inputs_unchanged, "cutmix changed x or y",
           hint="paste into a copy: x_mixed = x.clone(), then x_mixed[..., y0:y1, x0:x1] = x[perm][..., y0:y1, x0:x1]")
    expect_tensor(got.labels[0], "cutmix's y_soft", shape=(6, 6), dtype=torch.float64,
                  hint="y_soft in x's dtype: _soft_labels(y, num_classes, x.dtype), mixed with a Python float")
    # A correct cutmix pastes nothing in 10 calls with probability 0.0031 ** 10 < 1e-25; the rest is exact.
    expect_pasting(got, x, "cutmix on float64 photos")


@points(1, task="cutmix")
def test_cutmix_needs_num_classes_for_class_indices(student):
    """Class indices without num_classes raise ValueError (and with num_classes, the call pastes boxes)."""
    x = cutmix_inputs(6, seed=24)
    got = mixed(student, "cutmix", x, torch.arange(6), list(range(24, 34)), alpha=1.0, num_classes=6)
    # A correct cutmix pastes nothing in 10 calls with probability 0.0031 ** 10 < 1e-25; the rest is exact.
    expect_pasting(got, x, "cutmix")
    expect_raised(student.raises("mix_call", "cutmix", x, torch.arange(6)), ValueError,
                  "cutmix(x, class indices) without num_classes",
                  hint="raise ValueError when y holds class indices and num_classes is None (_soft_labels does)")


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
    expect_close(got.loss, F.cross_entropy(logits, indices), "the loss of large logits",
                 hint="the mean over the batch of -sum_k y_soft * F.log_softmax(logits, dim=1)")


# --- build_transforms -----------------------------------------------------------------------------

RANDOM_CLASSES = {"ColorJitter", "AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix", "ElasticTransform",
                  "GaussianBlur", "GaussianNoise", "MixUp", "CutMix", "ScaleJitter", "JPEG"}
RANGE_SETTINGS = {"GaussianBlur": ("sigma",), "JPEG": ("quality",),
                  "ColorJitter": ("brightness", "contrast", "saturation", "hue")}


def is_random_step(description):
    """Whether a described step draws random numbers itself: the student's Cutout, a v2 Random* step
    or one of RANDOM_CLASSES, unless its probability p is 0 or (for the steps whose randomness is a
    range) every range is a single value: a v2.GaussianBlur with one sigma, a v2.JPEG with one
    quality, a v2.ColorJitter with no range, is deterministic."""
    if description["p"] == 0:
        return False
    kind = description["type"]
    if description["students_cutout"]:
        return True
    if kind in RANGE_SETTINGS:
        ranges = [description["settings"].get(name) for name in RANGE_SETTINGS[kind]]
        return any(values is not None and min(values) != max(values) for values in ranges)
    return kind.startswith("Random") or kind in RANDOM_CLASSES


def random_steps(description):
    """The names of the random steps of a described pipeline (the student's Cutout included), nested ones too;
    a step with p = 0 never runs, nor do the steps inside it."""
    if description["p"] == 0:
        return []
    name = "your Cutout" if description["students_cutout"] else description["type"]
    found = [name] if is_random_step(description) else []
    for step in description["steps"]:
        found += random_steps(step)
    return found


def flat_steps(description):
    """The steps of a described pipeline in the order they run, containers walked."""
    steps = [description]
    for step in description["steps"]:
        steps += flat_steps(step)
    return steps


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
    mean, std = torch.tensor(MEAN, dtype=torch.float64), torch.tensor(STD, dtype=torch.float64)
    want = (colour.double() / 255.0 - mean) / std
    expect_close(outputs[0][0], want.float()[:, None, None].expand(3, IMAGE_SIZE, IMAGE_SIZE).contiguous(),
                 "the evaluation output of a one-colour image",
                 hint="scale uint8 to [0, 1] (v2.ToDtype(torch.float32, scale=True)), then "
                      "v2.Normalize(mean=mean, std=std): (x - mean) / std, in that order")


@points(2, task="build_transforms")
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
           "the training pipeline's output is not finite",
           hint="scale to [0, 1] and normalise with the given mean and std (std > 0)")


@points(2, task="build_transforms")
def test_train_pipeline_is_random_and_repeated_by_manual_seed(student):
    """A photo gets different training outputs under different seeds, and the same output under the same seed.

    The stub promises that no output comes out more than half of the time, so a correct pipeline
    gives 24 seeds one output with probability at most 2 ** -23 = 1.2e-7.
    """
    got = student.run("describe_pipeline", True, MEAN, STD, IMAGE_SIZE)
    expect(got.is_compose, "build_transforms(True, ...) should return a torchvision.transforms.v2.Compose")
    image = photo_crops(1, 30, 50, seed=44)[0]
    outputs = [row[0] for row in pipeline_outputs(student, True, [image], list(range(24)) * 2)]
    distinct = len({tuple(out.flatten().tolist()) for out in outputs[:24]})
    expect(distinct >= 2, "24 calls of the training pipeline on one photo, each after another torch.manual_seed, "
                          "gave one output",
           hint="augment the training data with random steps (random crops, flips, your Cutout...)")
    for seed in range(24):
        expect_equal(outputs[24 + seed], outputs[seed],
                     f"the training output of one photo, twice after torch.manual_seed({seed})",
                     hint="draw every random number from torch's global RNG (the v2 transforms do), not from "
                          "Python's random or a generator of your own")


@points(1, task="build_transforms")
def test_train_pipeline_normalises_like_the_evaluation_pipeline(student):
    """The training pipeline converts and normalises as the evaluation one: v2.ToDtype(float32, scale=True), then
    v2.Normalize."""
    got = student.run("describe_pipeline", True, MEAN, STD, IMAGE_SIZE)
    expect(got.is_compose, "build_transforms(True, ...) should return a torchvision.transforms.v2.Compose")
    steps = flat_steps(got.pipeline)
    scaled = [index for index, step in enumerate(steps) if step["type"] == "ToDtype"
              and "torch.float32" in step["settings"]["dtypes"] and step["settings"]["scale"] is True]
    normalised = [index for index, step in enumerate(steps) if step["type"] == "Normalize"
                  and step["settings"]["mean"] is not None and step["settings"]["std"] is not None
                  and torch.allclose(torch.tensor(step["settings"]["mean"], dtype=torch.float64),
                                     torch.tensor(MEAN, dtype=torch.float64))
                  and torch.allclose(torch.tensor(step["settings"]["std"], dtype=torch.float64),
                                     torch.tensor(STD, dtype=torch.float64))]
    expect(bool(scaled) and bool(normalised) and min(scaled) < max(normalised),
           "the training pipeline does not convert with v2.ToDtype(torch.float32, scale=True) and then normalise "
           "with v2.Normalize(mean, std)",
           hint="put *_to_normalised_float(mean, std) in the training pipeline too: a model trained on other "
                "values than it is evaluated on does badly")
    outputs = pipeline_outputs(student, True, [photo_crops(1, 30, 50, seed=46)[0]], [0])
    expect(bool(torch.isfinite(outputs[0][0]).all()), "the training pipeline's output is not finite")


@points(1, task="build_transforms")
def test_pipelines_accept_pil_images(student):
    """Both pipelines take PIL images too; evaluation gives the same output for a PIL image and its tensor."""
    image = photo_crops(1, 30, 50, seed=45)[0]
    tensor_out = pipeline_outputs(student, False, [image], [0])[0][0]
    pil_out = pipeline_outputs(student, False, [image], [0], as_pil=True)[0][0]
    gap = (pil_out - tensor_out).abs().max().item()
    expect(gap <= 4.0 / 255.0 / min(STD),
           f"the evaluation outputs of a PIL image and of its tensor differ by {gap:.3f}",
           hint="start with v2.ToImage(), which turns both into the same tensor")
    pipeline_outputs(student, True, [image], [0], as_pil=True)
