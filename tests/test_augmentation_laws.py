"""The reference passes the augmentation graders' statistical checks on seeds they do not use.

The graders check laws (the hole centres, Cutout's p, lam, the partners) and properties that hold
with overwhelming probability (holes and boxes reach every border in a few hundred calls) on one
fixed seed each, with bounds set for a false alarm of 1e-9 or six standard deviations. A
submission that draws its random numbers in another order is, in effect, another seed: here the
reference, driven through the graders' own scenarios in this process, passes each of those checks
on 40 other seeds.
"""

import math

import pytest
import torch

from references import load_grader, load_reference, load_scenarios

from coursekit.grading.record import to_record

pytestmark = pytest.mark.usefixtures("one_thread")     # as the grader's worker runs

GRADER = load_grader("augmentation")
OTHER_SEEDS = range(100, 140)


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
                                   "check_cutmix_label_weights", "check_cutmix_aspect_ratio"])
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
