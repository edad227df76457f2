"""The class report and a feedback page, opened in a real headless Chromium: offline, with the plots drawn.

Runs where Debian's `chromium` is installed (make report-check installs it, grades a generated class
and runs the same checks on its report); skipped elsewhere, saying so.
"""

import pytest

from coursekit.report.plots import BAR_COLOUR
from coursekit.report.write import write_report

from made_class import COURSE, TESTS, every_test, results, write_grades
from report_browser import STYLE_FONT, find_browser, rendering_problems, visit

pytestmark = pytest.mark.skipif(find_browser() is None, reason="Chromium is not installed (make report-check "
                                                               "installs it where it can)")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    first = {exercise_id: tests[0][0] for exercise_id, tests in TESTS.items()}
    students = {"ada": results(),
                "bo": results({exercise_id: every_test(exercise_id, "failed", "wrong") for exercise_id in TESTS}),
                "cy": results({exercise_id: {name: ("failed", "wrong")} for exercise_id, name in first.items()}),
                "di": None}
    folder = write_grades(tmp_path_factory.mktemp("grades"), students)
    return write_report(folder, COURSE).report


def test_the_report_opens_offline_and_draws_every_figure(report):
    page = visit(report)
    assert rendering_problems(page, figures=len(COURSE.exercises) + 1, colour=BAR_COLOUR, font=STYLE_FONT) == []
    assert page.requests[0] == report.resolve().as_uri()
    assert "Class report" in page.text and "Known mistakes" in page.text


def test_a_feedback_page_opens_offline(report):
    page = visit(report.parent / "cy" / "feedback.html")
    assert page.network_requests() == [] and page.images == []
    assert "Feedback for cy" in page.text and "wrong" in page.text and "Segoe UI" in page.font
