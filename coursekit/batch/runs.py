"""One grading run: some exercises of one student's folder, graded in one pytest run of a grading server.

A run's outcome is a GradingResult: Gradescope's results (None when the grader itself failed),
the run's terminal output for staff, and what went wrong. A student graded in several runs (one
per exercise, say) gets one GradingResult from `combine`.
"""

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from coursekit import paths
from coursekit.batch.client import GradingServerError
from coursekit.config import load_course
from coursekit.grading.results import merge_results

_EXTRA_SECONDS = 120     # an exercise's limit: its time budget for student code, plus this


@dataclass(frozen=True)
class ClassOptions:
    """How to grade: the course file, `--sandbox` mode (None: course.yml's), each exercise's limit.

    `seconds`: how long the grader may take for one exercise of one submission; None: that
    exercise's time budget in course.yml plus two minutes.
    """

    course: str = str(paths.COURSE_FILE)
    sandbox: str | None = None
    seconds: float | None = None

    def limit(self, exercise):
        return self.seconds if self.seconds is not None else exercise.time_budget + _EXTRA_SECONDS


@dataclass
class GradingResult:
    """What grading (an exercise, or a whole submission) gave: results (None if the grader failed), log, problem."""

    results: dict | None
    log: str
    problem: str = ""


def grading_failure(exercise_ids, results, code, seconds, log="grading.log"):
    """Why a grading run of `exercise_ids` is the grader's failure, not a score, or "" when it is a score.

    `results`: its results.json document (None: none written); `code`: pytest's exit status (None:
    stopped after `seconds`); `log`: where its output is, for the message.
    """
    names = ", ".join(exercise_ids)
    if code is None:
        return f"grading {names} took longer than {seconds:g} s and was stopped"
    if results is None or code not in (0, 1):
        graders = f"the {names} grader" if len(exercise_ids) == 1 else f"the graders of {names}"
        return f"{graders} failed (pytest exit code {code}); see {log}"
    broken = [test["extra_data"]["test"] for test in results["tests"] if test["extra_data"]["status"] == "grader error"]
    if broken:
        return f"grader error in {len(broken)} test(s), first {broken[0]}; see {log}"
    return ""


def grade_exercises(folder, exercises, options, server):
    """Grade some exercises of one student's folder in one pytest run of `server` (a GradingServer).

    The run may take as long as the exercises' limits added up. Returns a GradingResult.
    """
    seconds = sum(options.limit(exercise) for exercise in exercises)
    ids = [exercise.id for exercise in exercises]
    with tempfile.TemporaryDirectory(prefix="kit-grade-") as scratch:
        results_path, log_path = Path(scratch) / "results.json", Path(scratch) / "grading.log"
        argv = [*(str(paths.AUTOGRADER / f"test_{exercise_id}.py") for exercise_id in ids),
                "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:logging", "--submission", str(folder),
                "--results-json", str(results_path), "--course", options.course]
        if options.sandbox:
            argv += ["--sandbox", options.sandbox]
        try:
            code = server.run(argv, log_path, seconds=seconds)
        except (GradingServerError, OSError) as error:
            return GradingResult(None, "", f"the grading server failed: {error}")
        results = json.loads(results_path.read_text()) if results_path.exists() else None
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
    problem = grading_failure(ids, results, code, seconds)
    return GradingResult(results if not problem else None, log, problem)


def combine(course, parts):
    """One student's GradingResult from its parts, {exercise ids: GradingResult}: merged results in
    course order, or the first problem."""
    ordered = sorted(parts.items(), key=lambda part: course.ids.index(part[0][0]))
    log = "".join(f"==== {', '.join(ids)} ====\n{result.log}" for ids, result in ordered)
    problems = [result.problem for _, result in ordered if result.problem]
    if problems:
        return GradingResult(None, log, problems[0])
    return GradingResult(merge_results([result.results for _, result in ordered], course.ids), log)


def grade_submission(folder, options, server, *, one_run_per_exercise=False):
    """Grade every exercise of one student's folder in one run (or one run per exercise, one after
    another, merged); returns a GradingResult."""
    course = load_course(options.course)
    units = [[exercise] for exercise in course.exercises] if one_run_per_exercise else [list(course.exercises)]
    return combine(course, {tuple(e.id for e in unit): grade_exercises(folder, unit, options, server)
                            for unit in units})
