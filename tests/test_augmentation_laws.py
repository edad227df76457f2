"""The reference passes the augmentation graders' statistical checks on seeds they do not use.

The graders check laws (the hole and box centres, Cutout's p, lam, the partners) and properties
that hold with overwhelming probability (holes and boxes reach every border in a few hundred
calls) on one fixed seed each; each check's docstring states the probability, below 1e-6, that a
correct submission fails it. A submission that draws its random numbers in another order is, in
effect, another seed: here the reference, driven through the graders' own scenarios in this
process, passes each of those checks on 40 other seeds, and so does a cutmix that computes its
box ratio in float32.
"""

import math
import types

import pytest
import torch

from coursekit.grading.failures import Mismatch
from coursekit.grading.record import to_record

from catalogues import CATALOGUE_DIR, load_catalogue
from references import load_grader, load_reference, load_scenarios

pytestmark = pytest.mark.usefixtures("one_thread")     # as the grader's worker runs

GRADER = load_grader("augmentation")
OTHER_SEEDS = range(100, 140)
CATALOGUE = CATALOGUE_DIR / "augmentation.yml"


class InProcess:
    """The reference behind the graders' `student` interface, with no worker in between."""

    def __init__(self):
        self.module, self.scenarios = load_reference("augmentation"), load_scenarios("augmentation")

    def run(self, scenario, *args, **kwargs):
        return to_record(getattr(self.scenarios, scenario)(self.module, *args, **kwargs))


@pytest.fixture(scope="module")
def reference():
    return InProcess()


@pytest.mark.parametrize("check", ["check_interior_holes", "check_clipped_holes", "check_uniform_centres",
                                   "check_cutout_probability", "check_mixup_partners", "check_cutmix_boxes",
                                   "check_cutmix_label_weights", "check_cutmix_box_sizes", "check_cutmix_centres"])
def test_check_passes_on_40_other_seeds(reference, check):
    for seed in OTHER_SEEDS:
        getattr(GRADER, check)(reference, seed)


@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_lam_law_passes_on_40_other_seeds_with_room_to_spare(reference, alpha):
    distances = []
    for seed in OTHER_SEEDS:
        lams = GRADER.mixup_lams(reference, alpha, seed)
        GRADER.expect_beta_law(lams, alpha)
        distances.append(GRADER.ks_distance(lams, lambda points: GRADER.symmetric_beta_cdf(points, alpha)))
    assert max(distances) < 0.75 * GRADER.dkw_bound(GRADER.LAW_CALLS), distances


def test_the_graders_beta_distribution_function_against_closed_forms():
    points = torch.tensor([0.0, 0.1, 0.25, 0.5, 0.8, 1.0], dtype=torch.float64)
    torch.testing.assert_close(GRADER.symmetric_beta_cdf(points, 1.0), points, atol=1e-9, rtol=0)
    # Beta(1/2, 1/2), the arcsine law: F(x) = (2 / pi) * asin(sqrt(x)).
    torch.testing.assert_close(GRADER.symmetric_beta_cdf(points, 0.5), 2 / math.pi * torch.asin(points.sqrt()),
                               atol=1e-4, rtol=0)
    # Beta(2, 2): F(x) = 3x^2 - 2x^3.
    torch.testing.assert_close(GRADER.symmetric_beta_cdf(points, 2.0), 3 * points ** 2 - 2 * points ** 3,
                               atol=1e-7, rtol=0)
    assert GRADER.symmetric_beta_cdf(torch.tensor([0.5]), 0.2).item() == pytest.approx(0.5, abs=1e-6)



def test_a_uniform_lam_is_far_outside_the_alpha_02_bound():
    """The bound is tight enough to matter: a uniform lam is caught on 999 seeds in 1000."""
    grid = torch.linspace(0.0, 1.0, 2001, dtype=torch.float64)
    gap = (GRADER.symmetric_beta_cdf(grid, 0.2) - grid).abs().max().item()
    # A uniform sample's own distribution strays from the uniform law by less than this, 999 times in 1000.
    uniform_stray = math.sqrt(math.log(2 / 1e-3) / (2 * GRADER.LAW_CALLS))
    assert gap - uniform_stray > GRADER.dkw_bound(GRADER.LAW_CALLS)


# --- the box size: exact, with a margin that rounding cannot cross -------------------------------

def _module_from_source(name, source):
    module = types.ModuleType(name)
    exec(compile(source, f"<{name}>", "exec"), module.__dict__)
    return module


def _catalogued(entry_id):
    return next(entry for entry in load_catalogue(CATALOGUE) if entry.id == entry_id)


class Variant(InProcess):
    """A catalogued submission behind the graders' `student` interface."""

    def __init__(self, entry_id):
        self.module = _module_from_source(entry_id, _catalogued(entry_id).source)
        self.scenarios = load_scenarios("augmentation")


@pytest.mark.parametrize("ratios", ["BOX_RATIOS", "CENTRE_RATIOS"])
def test_scripted_ratios_keep_every_side_at_least_0_15_from_an_integer(ratios):
    for ratio in getattr(GRADER, ratios):
        for length in (GRADER.HEIGHT, GRADER.WIDTH):
            assert 0.15 <= (length * ratio) % 1.0 <= 0.85, (ratio, length)
            if ratios == "CENTRE_RATIOS":       # cut short at one border at most: the centre can be read back
                assert 2 * int(length * ratio) < length


@pytest.mark.parametrize("check", ["check_cutmix_box_sizes", "check_cutmix_centres"])
def test_a_cutmix_with_a_float32_ratio_passes_the_box_checks_on_40_other_seeds(check):
    variant = Variant("own_one_hot_float32_ratio_and_custom_random_step")
    for seed in OTHER_SEEDS:
        getattr(GRADER, check)(variant, seed)


@pytest.mark.parametrize("mutant", ["cutmix_box_from_the_papers_code", "cutmix_ratio_without_square_root",
                                    "cutmix_height_and_width_swapped"])
def test_a_box_a_row_off_fails_the_box_size_check_on_every_seed(mutant):
    """Not a matter of luck: the paper's box, a row short for odd sizes, fails on each of 40 seeds."""
    variant = Variant(mutant)
    for seed in OTHER_SEEDS:
        with pytest.raises(Mismatch):
            GRADER.check_cutmix_box_sizes(variant, seed)


# --- the false-failure probabilities stated in the graders ---------------------------------------

def test_cutout_probability_check_fails_a_correct_cutout_with_probability_below_1e_8():
    n, p = 400, 0.3
    bound = GRADER.six_sigma(p, n)
    tails = sum(math.comb(n, k) * p ** k * (1 - p) ** (n - k) for k in range(n + 1) if abs(k / n - p) > bound)
    assert tails == pytest.approx(4.5e-9, rel=0.01)


@pytest.mark.parametrize("alpha, stated", [(0.2, 1.4e-7), (1.0, 1.0e-9)])
def test_lam_law_fails_a_correct_mixup_with_the_stated_probability(alpha, stated):
    """DKW at the graders' bound, less the shift float32 rounding of lam can cause (the mass of half a
    float32 step below 1) and 1 / n per call whose permutation is the identity (1 in 8!)."""
    n, eps = GRADER.LAW_CALLS, GRADER.dkw_bound(GRADER.LAW_CALLS)
    half_step = torch.tensor([1.0 - 2.0 ** -25], dtype=torch.float64)
    shift = 1.0 - GRADER.symmetric_beta_cdf(half_step, alpha).item()
    identity = 1.0 / math.factorial(8)
    total = 0.0
    for k in range(20):
        chance = math.comb(n, k) * identity ** k * (1 - identity) ** (n - k)
        margin = eps - shift - k / n
        total += chance * (min(1.0, 2 * math.exp(-2 * n * margin ** 2)) if margin > 0 else 1.0)
    assert total == pytest.approx(stated, rel=0.05) and total < 1e-6


def test_the_old_aspect_ratio_check_failed_a_correct_cutmix_once_in_about_800():
    """Why the box is now checked on chosen lam: 40 calls held no unclipped box with probability 1 / 812."""
    height, width = GRADER.HEIGHT, GRADER.WIDTH
    breaks = sorted({k / height for k in range(height + 1)} | {k / width for k in range(width + 1)})
    inside = 0.0
    for low, high in zip(breaks, breaks[1:]):
        middle = (low + high) / 2
        cut_h, cut_w = int(height * middle), int(width * middle)
        rows = sum(1 for cy in range(height) if cy - cut_h // 2 > 0 and cy - cut_h // 2 + cut_h < height)
        cols = sum(1 for cx in range(width) if cx - cut_w // 2 > 0 and cx - cut_w // 2 + cut_w < width)
        if cut_h and cut_w:
            inside += (high ** 2 - low ** 2) * rows * cols / (height * width)    # 1 - lam = ratio ** 2 is uniform
    assert (1 - inside) ** 40 == pytest.approx(1 / 812, rel=0.01)


# --- the evaluation pipeline's structure check counts only steps that draw ------------------------

def test_eval_structure_check_counts_only_steps_that_draw(reference):
    from torchvision.transforms import v2

    def found(*steps):
        described = reference.scenarios._describe((reference.module.Cutout,), v2.Compose(list(steps)))
        return GRADER.random_steps(to_record(described))

    assert found(v2.Resize(8), v2.CenterCrop(8), v2.GaussianBlur(3, sigma=1.0), v2.JPEG(90), v2.ColorJitter(),
                 v2.RandomHorizontalFlip(p=0.0), v2.RandomApply([v2.RandomVerticalFlip()], p=0.0),
                 reference.module.Cutout(4, p=0.0), v2.Compose([v2.Resize(8)])) == []
    assert found(v2.GaussianBlur(3), v2.JPEG((50, 90)), v2.ColorJitter(brightness=0.2), v2.RandomHorizontalFlip(),
                 v2.Compose([v2.RandomResizedCrop(8)]), reference.module.Cutout(4, p=0.5)) == [
        "GaussianBlur", "JPEG", "ColorJitter", "RandomHorizontalFlip", "RandomResizedCrop", "your Cutout"]
