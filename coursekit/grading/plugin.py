"""The pytest plugin behind `pytest autograder`: options, the `student` fixture, scores, reports.

Options:
    --submission DIR      grade DIR (holding <id>/<id>.py or <id>.py); default: assignments/
    --solutions           grade the reference solutions in solutions/
    --results-json PATH   write Gradescope's results.json to PATH
    --course PATH         the course file (default: course.yml beside autograder/)
    --sandbox MODE        auto, bubblewrap or none: overrides course.yml's sandbox.isolation
    --exercise ID         grade only this exercise (repeatable); default: every exercise
An exercise whose file cannot be graded (missing, two copies, not UTF-8) is not run: it is reported
once, as one outcome worth all of its tests' points.
Markers: `exercise(id)` on a grader module, `points(n, task=...)` on each grader test.
"""

import time
import warnings
from pathlib import Path

import pytest

from coursekit import paths
from coursekit.config import ISOLATIONS, CourseConfigError, load_course
from coursekit.grading.failures import GradingFailure
from coursekit.grading.process import WorkerSpec
from coursekit.grading.report import summary_lines
from coursekit.grading.sandbox import SandboxUnavailable, choose_isolation
from coursekit.grading.results import TestOutcome, exercise_scores, gradescope_results, write_json_atomically
from coursekit.grading.student import Student
from coursekit.grading.submission import locate_module_file
from coursekit.grading.zygote import Zygote, preloaded

__all__ = ["pytest_addoption", "pytest_configure", "pytest_report_header", "pytest_collection_modifyitems",
           "pytest_collection_modifyitems_select", "pytest_collection_finish", "student", "pytest_runtest_makereport", "pytest_runtest_makereport_recorded",
           "pytest_runtest_teardown", "pytest_terminal_summary", "pytest_sessionfinish"]

_SESSION = pytest.StashKey()


def points(value, *, task):
    """Mark a grader test as worth `value` points towards `task` (a name from course.yml)."""
    return pytest.mark.points(value, task=task)


def exercise(exercise_id):
    """Mark a grader module as grading the exercise `exercise_id` (use as `pytestmark`)."""
    return pytest.mark.exercise(exercise_id)


class GradingSession:
    """Everything one grading run knows: the course, the submission, workers, outcomes."""

    def __init__(self, course, submission_root, isolation):
        self.course = course
        self.isolation = isolation
        self.submission_root = Path(submission_root)
        self.students = {}
        self.outcomes = []
        self.items = []              # the graders selected to run, in order
        self.collected = False       # results are written only for a run whose graders were valid
        self.started = time.monotonic()
        self._zygote = None

    def zygote(self):
        """The zygote that forks this run's workers: the process's preloaded one, or one of its own."""
        if self._zygote is None or not self._zygote.alive:
            self._zygote = preloaded(self.isolation) or Zygote(self.isolation, self.course.sandbox.scratch_mb << 20)
        return self._zygote

    def unavailable(self, exercise_id):
        """Why the submission's file for this exercise cannot be graded, or None."""
        return locate_module_file(self.submission_root, self.course.exercise(exercise_id))[1]

    def student(self, exercise_id, scenarios_file):
        if exercise_id not in self.students:
            exercise_config = self.course.exercise(exercise_id)
            module_file, problem = locate_module_file(self.submission_root, exercise_config)
            if module_file is None:
                handle = Student(exercise_config, None, missing=problem)
            else:
                spec = WorkerSpec(module_name=exercise_id, student_file=module_file,
                                  scenarios_file=scenarios_file,
                                  forbidden=exercise_config.forbidden.as_plain(),
                                  limits=self.course.sandbox,
                                  import_seconds=exercise_config.time_limit,
                                  cpu_seconds=self.course.sandbox.cpu_seconds_for(exercise_config))
                handle = Student(exercise_config, spec, self.zygote)
            self.students[exercise_id] = handle
        return self.students[exercise_id]

    def close_student(self, exercise_id):
        """Stop the worker of an exercise whose tests are done (a later test would start another)."""
        if exercise_id in self.students:
            self.students[exercise_id].close()

    def close(self):
        for handle in self.students.values():
            handle.close()
        if self._zygote is not None and self._zygote is not preloaded(self.isolation):
            self._zygote.close()
        self._zygote = None

    def record_unrun(self):
        """Give every selected grader that produced no outcome (after -x, say) a 'not graded' one."""
        done = {outcome.nodeid for outcome in self.outcomes}
        for item in self.items:
            if item.nodeid not in done:
                self.outcomes.append(_outcome(item, None))

    def ordered_outcomes(self):
        """The outcomes in course.yml's order of exercises (each exercise's tests in their run order)."""
        return sorted(self.outcomes, key=lambda outcome: self.course.ids.index(outcome.exercise))

    def graded_exercise_ids(self):
        """Exercises with at least one outcome, in course.yml's order."""
        return [exercise.id for exercise in self.course.exercises
                if any(outcome.exercise == exercise.id for outcome in self.outcomes)]


def pytest_addoption(parser):
    group = parser.getgroup("grading", "course kit grading")
    group.addoption("--submission", metavar="DIR", help="grade DIR (holding <id>/<id>.py or <id>.py)")
    group.addoption("--solutions", action="store_true", help="grade the reference solutions")
    group.addoption("--results-json", metavar="PATH", help="write Gradescope's results.json to PATH")
    group.addoption("--course", metavar="PATH", help="the course file (default: course.yml)")
    group.addoption("--exercise", action="append", metavar="ID", help="grade only this exercise (repeatable)")
    group.addoption("--sandbox", choices=ISOLATIONS, help="confine student code: auto, bubblewrap or none "
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
    config.addinivalue_line("markers", "points(n, task): points a grader test is worth, and its task")
    config.addinivalue_line("markers", "exercise(id): the exercise a grader module grades")
    if getattr(config.option, "numprocesses", None):
        raise pytest.UsageError("grade in one process (no -n): the scores are added up by the process "
                                "that ran the graders")
    try:
        course = load_course(config.getoption("--course") or paths.COURSE_FILE)
    except CourseConfigError as error:
        raise pytest.UsageError(str(error)) from None
    try:
        isolation = choose_isolation(config.getoption("--sandbox") or course.sandbox.isolation)
    except SandboxUnavailable as error:
        raise pytest.UsageError(str(error)) from None
    if isolation.warning:
        warnings.warn(SandboxWarning(isolation.warning))
    config.stash[_SESSION] = GradingSession(course, _submission_root(config), isolation)


class SandboxWarning(UserWarning):
    """Student code runs without the OS sandbox."""


def pytest_report_header(config):
    grading = config.stash.get(_SESSION, None)
    if grading is not None:
        return f"sandbox: {grading.isolation.kind}" + (f" -- {grading.isolation.warning}"
                                                        if grading.isolation.warning else "")


def _describe(item):
    doc = (getattr(item.function, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else ""


def _declared_points(module):
    """(task, points) for every grader function in a module, whether or not it was selected."""
    for name, function in sorted(vars(module).items()):
        if name.startswith("test_") and callable(function):
            for mark in getattr(function, "pytestmark", []):
                if mark.name == "points":
                    yield mark.kwargs["task"], mark.args[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    """Check every grader is marked and documented, and that its points agree with course.yml.

    Then order the tests as course.yml orders the exercises (each grader file keeps its own order),
    so that results.json reads like the course.

    Points are summed over every grader function of each collected module, so grading a
    selection (-k, node ids) is checked against the same totals as a full run.
    """
    grading = config.stash[_SESSION]
    course = grading.course
    problems, modules = [], {}
    for item in items:
        exercise_marker, points_marker = item.get_closest_marker("exercise"), item.get_closest_marker("points")
        if exercise_marker is None or points_marker is None or not _describe(item):
            problems.append(f"{item.nodeid}: a grader needs an exercise marker, a points marker "
                            "and a docstring whose first line the student reads")
        elif exercise_marker.args[0] not in course.ids:
            problems.append(f"{item.nodeid}: exercise {exercise_marker.args[0]!r} is not in {course.path.name}")
        else:
            modules.setdefault(exercise_marker.args[0], {})[item.module.__name__] = item.module
    for exercise_id, exercise_modules in modules.items():
        awarded = {}
        for module in exercise_modules.values():
            for task, value in _declared_points(module):
                awarded[task] = awarded.get(task, 0) + value
        index = course.ids.index(exercise_id)
        declared = course.exercise(exercise_id).tasks
        for task in sorted(set(awarded) | set(declared)):
            if awarded.get(task, 0) != declared.get(task, 0):
                problems.append(f"{course.path.name}: exercises[{index}].tasks.{task}: "
                                f"{declared.get(task, 0)} points here, but the graders award {awarded.get(task, 0)}")
    if problems:
        raise pytest.UsageError("the graders do not match the course file:\n  " + "\n  ".join(problems))
    items.sort(key=lambda item: course.ids.index(_exercise_of(item)))   # stable
    grading.collected = True


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_select(session, config, items):
    """Keep the --exercise choices, then set aside every exercise whose file cannot be graded.

    Runs after -k and -m have deselected theirs, so an exercise left out by them is not reported.
    """
    grading = config.stash[_SESSION]
    course = grading.course
    chosen = config.getoption("--exercise") or []
    for exercise_id in chosen:
        if exercise_id not in course.ids:
            raise pytest.UsageError(f"--exercise {exercise_id}: not an exercise of {course.path.name} "
                                    f"({', '.join(course.ids)})")
    _deselect(config, items, lambda item: bool(chosen) and _exercise_of(item) not in chosen)
    for exercise_id in dict.fromkeys(map(_exercise_of, list(items))):
        problem = grading.unavailable(exercise_id)
        if problem is not None:
            dropped = _deselect(config, items, lambda item: _exercise_of(item) == exercise_id)
            grading.outcomes.append(_unavailable_outcome(exercise_id, dropped, problem))


def _deselect(config, items, unwanted):
    """Remove the items for which unwanted(item) holds, as pytest's -k does; return them."""
    dropped = [item for item in items if unwanted(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not unwanted(item)]
    return dropped


def _unavailable_outcome(exercise_id, items, problem):
    """One outcome for an exercise whose file cannot be graded, worth the points of all its tests."""
    return TestOutcome(nodeid=items[0].nodeid.partition("::")[0], name="all tests", exercise=exercise_id,
                       task="", max_score=float(sum(item.get_closest_marker("points").args[0] for item in items)),
                       score=0.0, status="not graded", feedback=problem, tests=len(items))


def pytest_collection_finish(session):
    session.config.stash[_SESSION].items = list(session.items)


@pytest.fixture
def student(request):
    """The exercise under test, in the submission being graded."""
    grading = request.config.stash[_SESSION]
    exercise_id = request.node.get_closest_marker("exercise").args[0]
    scenarios = Path(request.node.fspath).parent / "scenarios" / f"{exercise_id}.py"
    return grading.student(exercise_id, scenarios)


def _outcome(item, report):
    exercise_id = item.get_closest_marker("exercise").args[0]
    points_marker = item.get_closest_marker("points")
    maximum = float(points_marker.args[0])
    base = dict(nodeid=item.nodeid, name=_describe(item), exercise=exercise_id,
                task=points_marker.kwargs["task"], max_score=maximum)
    if report is None:
        return TestOutcome(score=0.0, status="not graded", feedback="this test did not run", **base)
    if report.passed:
        return TestOutcome(score=maximum, status="passed", feedback="", **base)
    if report.skipped:
        return TestOutcome(score=0.0, status="not graded", feedback="this test was skipped", **base)
    error = getattr(report, "_grading_failure", None)
    if error is not None:
        return TestOutcome(score=0.0, status=error.status, feedback=error.feedback(), **base)
    return TestOutcome(score=0.0, status="grader error",
                       feedback="the grader itself failed on this test, not the submission; "
                                "please report it to course staff", **base)


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
                               f"[{failure.status}] {_describe(item)}\n{failure.feedback()}{staff}", call.when,
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
        grading.outcomes.append(_outcome(item, report))


def _exercise_of(item):
    marker = item.get_closest_marker("exercise") if item is not None else None
    return marker.args[0] if marker is not None else None


def pytest_runtest_teardown(item, nextitem):
    """Stop an exercise's worker after its last test: a run over many exercises keeps one at a time."""
    exercise_id = _exercise_of(item)
    grading = item.config.stash.get(_SESSION, None)
    if grading is not None and exercise_id is not None and _exercise_of(nextitem) != exercise_id:
        grading.close_student(exercise_id)


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
                                      course_id=grading.course.id,
                                      submission=str(grading.submission_root),
                                      sandbox=grading.isolation.as_plain())
        write_json_atomically(target, document)
