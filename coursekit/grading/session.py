"""One grading run's state: the course, the submission, its exercises' workers, and the outcomes.

The pytest plugin (plugin.py) keeps one GradingSession per run and records an outcome for every
selected grader test: from its report, or "not graded" when it did not run.
"""

import time
from pathlib import Path

from coursekit.grading.process import WorkerSpec
from coursekit.grading.results import TestOutcome
from coursekit.grading.submission import locate_module_file
from coursekit.grading.submitted_exercise import SubmittedExercise
from coursekit.grading.zygote_client import ZygoteClient, ZygoteFailure, preloaded


class GradingSession:
    """Everything one grading run knows: the course, the submission, workers, outcomes."""

    def __init__(self, course, submission_root, isolation):
        self.course = course
        self.isolation = isolation
        self.submission_root = Path(submission_root)
        self.exercises = {}
        self.outcomes = []
        self.items = []              # the graders selected to run, in order
        self.collected = False       # results are written only for a run whose graders were valid
        self.started = time.monotonic()
        self._zygote = None
        self._located = {}           # exercise id -> locate_module_file's answer

    def start_zygote(self):
        """Start this run's own zygote now, without waiting for it, unless a preloaded one serves.

        Called when the run is configured: the zygote loads torch while this process collects the
        graders (which load torch too), so a cold start pays for torch once in wall time, not twice.
        A zygote that fails to start here is started again, and its failure reported, on first use.
        """
        if self._zygote is None and preloaded(self.isolation) is None:
            try:
                self._zygote = ZygoteClient(self.isolation, self.course.sandbox.scratch_mb << 20, wait=False)
            except ZygoteFailure:
                self._zygote = None

    def zygote(self):
        """The zygote that forks this run's workers, ready: the process's preloaded one, or one of its own."""
        if self._zygote is None or not self._zygote.alive:
            scratch_bytes = self.course.sandbox.scratch_mb << 20
            self._zygote = preloaded(self.isolation) or ZygoteClient(self.isolation, scratch_bytes)
        if isinstance(self._zygote, ZygoteClient):
            self._zygote.ready()
        return self._zygote

    def located(self, exercise_id):
        """(the submission's file for this exercise, None) or (None, why it cannot be graded), found once."""
        if exercise_id not in self._located:
            self._located[exercise_id] = locate_module_file(self.submission_root, self.course.exercise(exercise_id))
        return self._located[exercise_id]

    def unavailable(self, exercise_id):
        """Why the submission's file for this exercise cannot be graded, or None."""
        return self.located(exercise_id)[1]

    def submitted_exercise(self, exercise_id, scenarios_file):
        """The SubmittedExercise of this submission for `exercise_id`, made on first use."""
        if exercise_id not in self.exercises:
            exercise_config = self.course.exercise(exercise_id)
            module_file, problem = self.located(exercise_id)
            if module_file is None:
                handle = SubmittedExercise(exercise_config, None, missing=problem)
            else:
                spec = WorkerSpec(module_name=exercise_id, student_file=module_file,
                                  scenarios_file=scenarios_file,
                                  forbidden=exercise_config.forbidden.as_plain(),
                                  limits=self.course.sandbox,
                                  import_seconds=exercise_config.time_limit,
                                  cpu_seconds=self.course.sandbox.cpu_seconds_for(exercise_config),
                                  preload=exercise_config.preload)
                handle = SubmittedExercise(exercise_config, spec, self.zygote)
            self.exercises[exercise_id] = handle
        return self.exercises[exercise_id]

    def close_exercise(self, exercise_id):
        """Stop the worker of an exercise whose tests are done (a later test would start another)."""
        if exercise_id in self.exercises:
            self.exercises[exercise_id].close()

    def close(self):
        for handle in self.exercises.values():
            handle.close()
        if self._zygote is not None and self._zygote is not preloaded(self.isolation):
            self._zygote.close()
        self._zygote = None

    def record_unrun(self):
        """Give every selected grader that produced no outcome (after -x, say) a 'not graded' one."""
        done = {outcome.nodeid for outcome in self.outcomes}
        for item in self.items:
            if item.nodeid not in done:
                self.outcomes.append(outcome_of(item, None))

    def ordered_outcomes(self):
        """The outcomes in course.yml's order of exercises (each exercise's tests in their run order)."""
        return sorted(self.outcomes, key=lambda outcome: self.course.ids.index(outcome.exercise))

    def graded_exercise_ids(self):
        """Exercises with at least one outcome, in course.yml's order."""
        return [exercise.id for exercise in self.course.exercises
                if any(outcome.exercise == exercise.id for outcome in self.outcomes)]


def describe(item):
    """The first paragraph of a grader test's docstring (its lines joined): what the student reads."""
    doc = (getattr(item.function, "__doc__", None) or "").strip()
    return " ".join(line.strip() for line in doc.split("\n\n")[0].splitlines())


def exercise_of(item):
    marker = item.get_closest_marker("exercise") if item is not None else None
    return marker.args[0] if marker is not None else None


def outcome_of(item, report):
    """The TestOutcome of a grader test from its report (None: it did not run)."""
    exercise_id = item.get_closest_marker("exercise").args[0]
    points_marker = item.get_closest_marker("points")
    maximum = float(points_marker.args[0])
    base = dict(nodeid=item.nodeid, name=describe(item), exercise=exercise_id,
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
