"""The pytest plugin behind `pytest autograder`: options, the `student` fixture, scores, reports.

Options:
    --submission DIR      grade DIR (holding <id>/<id>.py or <id>.py); default: assignments/
    --solutions           grade the reference solutions in solutions/
    --results-json PATH   write Gradescope's results.json to PATH
    --course PATH         the course file (default: course.yml beside autograder/)
    --sandbox MODE        auto, bubblewrap, landlock or none: overrides course.yml's sandbox.isolation
    --disposable-machine  the machine is thrown away after grading (see landlock_tier.lock_course_files)
    --exercise ID         grade only this exercise (repeatable); default: every exercise
An exercise whose file cannot be graded (missing, two copies, not UTF-8) is not run: it is reported
once, as one outcome worth all of its tests' points (selection.py). The run's state is a
GradingSession (session.py).
Markers: `exercise(id)` on a grader module, `points(n, task=...)` on each grader test.
"""

import gc
import time
import warnings
from pathlib import Path

import pytest

from coursekit import paths
from coursekit.atomic_write import write_json_atomically
from coursekit.config import ISOLATIONS, CourseConfigError, load_course
from coursekit.grading import quick_exit
from coursekit.grading.failures import GradingFailure
from coursekit.grading.report import summary_lines
from coursekit.grading.results import exercise_scores, gradescope_results
from coursekit.grading.sandbox import SandboxUnavailable, choose_isolation
from coursekit.grading.selection import check_graders, select_exercises
from coursekit.grading.session import GradingSession, describe, exercise_of, outcome_of

__all__ = ["pytest_addoption", "pytest_configure", "pytest_sessionstart", "pytest_report_header",
           "pytest_collection_modifyitems", "pytest_collection_modifyitems_select", "pytest_collection_finish",
           "student",
           "pytest_runtest_makereport", "pytest_runtest_makereport_recorded", "pytest_runtest_teardown",
           "pytest_terminal_summary", "pytest_sessionfinish"]

_SESSION = pytest.StashKey()


def points(value, *, task):
    """Mark a grader test as worth `value` points towards `task` (a name from course.yml)."""
    return pytest.mark.points(value, task=task)


def exercise(exercise_id):
    """Mark a grader module as grading the exercise `exercise_id` (use as `pytestmark`)."""
    return pytest.mark.exercise(exercise_id)


MARKERS = ("points(n, task): the points a grader test is worth, and the course.yml task they count towards",
           "exercise(id): the course.yml exercise a grader module grades")


def register_markers(config):
    """Declare the graders' markers to pytest: in grading runs, and in the kit's tests that import graders."""
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)


def pytest_addoption(parser):
    group = parser.getgroup("grading", "course kit grading")
    group.addoption("--submission", metavar="DIR", help="grade DIR (holding <id>/<id>.py or <id>.py)")
    group.addoption("--solutions", action="store_true", help="grade the reference solutions")
    group.addoption("--results-json", metavar="PATH", help="write Gradescope's results.json to PATH")
    group.addoption("--course", metavar="PATH", help="the course file (default: course.yml)")
    group.addoption("--exercise", action="append", metavar="ID", help="grade only this exercise (repeatable)")
    group.addoption("--disposable-machine", action="store_true",
                    help="this machine is thrown away after grading (Gradescope): where Landlock is missing, "
                         "the landlock tier may make the course files unreadable to workers by changing their modes")
    group.addoption("--sandbox", choices=ISOLATIONS, help="confine student code: auto, bubblewrap, landlock or none "
                                                          "(default: course.yml's sandbox.isolation)")


def _submission_root(config):
    chosen = config.getoption("--submission")
    if chosen and config.getoption("--solutions"):
        raise pytest.UsageError("give either --submission DIR or --solutions, not both")
    if config.getoption("--solutions"):
        return paths.SOLUTIONS
    if chosen:
        root = Path(chosen)
        if not root.is_dir():
            raise pytest.UsageError(f"--submission {chosen}: no such folder")
        return root
    return paths.ASSIGNMENTS


def pytest_configure(config):
    register_markers(config)
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("grade in one process (no -n): the scores are added up by the process "
                                "that ran the graders")
    try:
        course = load_course(config.getoption("--course") or paths.COURSE_FILE)
    except CourseConfigError as error:
        raise pytest.UsageError(str(error)) from None
    try:
        isolation = choose_isolation(config.getoption("--sandbox") or course.sandbox.isolation,
                                     disposable=config.getoption("--disposable-machine"))
    except SandboxUnavailable as error:
        raise pytest.UsageError(str(error)) from None
    if isolation.warning:
        warnings.warn(SandboxWarning(isolation.warning), stacklevel=1)
    grading = config.stash[_SESSION] = GradingSession(course, _submission_root(config), isolation)
    grading.start_zygote()


def pytest_sessionstart(session):
    """A run that pytest's command line started ends without the interpreter's teardown (quick_exit.py)."""
    quick_exit.arm(session)


class SandboxWarning(UserWarning):
    """Student code runs without the OS sandbox."""


def pytest_report_header(config):
    grading = config.stash.get(_SESSION, None)
    if grading is not None:
        return f"sandbox: {grading.isolation.headline()}" + (f" -- {grading.isolation.warning}"
                                                              if grading.isolation.warning else "")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """Check every grader against course.yml (selection.check_graders), then order the tests as
    course.yml orders the exercises (each grader file keeps its own order), so that results.json
    reads like the course."""
    grading = config.stash[_SESSION]
    problems = check_graders(items, grading.course)
    if problems:
        raise pytest.UsageError("the graders do not match the course file:\n  " + "\n  ".join(problems))
    items.sort(key=lambda item: grading.course.ids.index(exercise_of(item)))   # stable
    grading.collected = True


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_select(session, config, items):
    """Keep the --exercise choices, then set aside every exercise whose file cannot be graded.

    Runs after -k and -m have deselected theirs, so an exercise left out by them is not reported.
    """
    grading = config.stash[_SESSION]
    grading.outcomes += select_exercises(config, items, grading, config.getoption("--exercise") or [])


def pytest_collection_finish(session):
    """Note the graders selected; then freeze what is loaded (torch, the graders): no garbage
    collection of the run walks it again, nor does the interpreter's, a second, at exit."""
    session.config.stash[_SESSION].items = list(session.items)
    gc.freeze()


@pytest.fixture
def student(request):
    """The exercise under test, in the submission being graded."""
    grading = request.config.stash[_SESSION]
    exercise_id = request.node.get_closest_marker("exercise").args[0]
    scenarios = Path(request.node.fspath).parent / "scenarios" / f"{exercise_id}.py"
    return grading.submitted_exercise(exercise_id, scenarios)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_makereport(item, call):
    """A grading failure's report: the student's feedback (and the staff note), never a traceback.

    pytest's own report would first format the traceback, with source, of every frame: most of
    the time a failing test takes. Other failures (grader errors) keep pytest's report.
    """
    failure = call.excinfo.value if call.excinfo is not None else None
    if item.get_closest_marker("points") is None or not isinstance(failure, GradingFailure):
        return None
    staff = f"\n--- for staff only: the worker's last output ---\n{failure.staff_note}" if failure.staff_note else ""
    sections = [(f"Captured {key} {when}", content) for when, key, content in item._report_sections]
    report = pytest.TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "failed",
                               f"[{failure.status}] {describe(item)}\n{failure.feedback()}{staff}", call.when,
                               sections, call.duration, call.start, call.stop, user_properties=item.user_properties)
    report._grading_failure = failure
    return report


@pytest.hookimpl(hookwrapper=True, specname="pytest_runtest_makereport")
def pytest_runtest_makereport_recorded(item, call):
    """Record each graded test's outcome from its report (whichever hook made it)."""
    outcome = yield
    report = outcome.get_result()
    if item.get_closest_marker("points") is None:
        return
    grading = item.config.stash[_SESSION]
    if report.when == "call" or (report.when == "setup" and not report.passed):
        grading.outcomes.append(outcome_of(item, report))


def pytest_runtest_teardown(item, nextitem):
    """Stop an exercise's worker after its last test: a run over many exercises keeps one at a time."""
    exercise_id = exercise_of(item)
    grading = item.config.stash.get(_SESSION, None)
    if grading is not None and exercise_id is not None and exercise_of(nextitem) != exercise_id:
        grading.close_exercise(exercise_id)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    grading = config.stash.get(_SESSION, None)
    if grading is None or not (grading.items or grading.outcomes):
        return
    grading.record_unrun()
    terminalreporter.section(f"scores: {grading.submission_root}")
    for line in summary_lines(exercise_scores(grading.outcomes, grading.graded_exercise_ids()),
                              grading.ordered_outcomes()):
        terminalreporter.write_line(line)
    if grading.isolation.warning:
        terminalreporter.write_line("")
        terminalreporter.write_line(f"WARNING: {grading.isolation.warning}", red=True, bold=True)


def pytest_sessionfinish(session, exitstatus):
    grading = session.config.stash.get(_SESSION, None)
    if grading is None:
        return
    grading.close()
    set_aside = any(not outcome.task for outcome in grading.outcomes)
    if set_aside and exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED     # an exercise that was not graded lost points
    target = session.config.getoption("--results-json")
    if target and grading.collected:
        grading.record_unrun()
        document = gradescope_results(grading.ordered_outcomes(), grading.graded_exercise_ids(),
                                      execution_time=time.monotonic() - grading.started,
                                      course=grading.course,
                                      submission=str(grading.submission_root),
                                      sandbox=grading.isolation.as_plain())
        write_json_atomically(target, document)
