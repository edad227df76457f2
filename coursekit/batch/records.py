"""What a class grading writes, and what it knows of the class: who is to grade, who is done.

Under `out`:
    <student>/results.json   Gradescope's results, plus extra_data.batch: the grader fingerprint,
                             the student, and the notebooks that cannot be read (notebooks.py)
    <student>/results.previous.json   with --regrade: the results it replaces, set aside as the run starts
    <student>/grading.log    the grader's terminal output, for staff
    grades.csv               points possible, then student, each exercise's score, total, status, late
Each file is written atomically (coursekit/atomic_write.py). A rerun skips students whose
results.json exists, unless `regrade`; results from other graders (a changed test or course.yml)
are counted and named. A regrade sets every student's results.json aside first, so that one it
has not reached yet (an interrupted run) is graded by a rerun without --regrade.
"""

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from coursekit import paths
from coursekit.atomic_write import write_atomically, write_json_atomically
from coursekit.batch.csv_export import write_class_csv
from coursekit.batch.lateness import late_text
from coursekit.batch.layout import find_submissions
from coursekit.batch.notebooks import notebook_problems
from coursekit.batch.status import needs_a_look, student_status
from coursekit.config import load_course

PREVIOUS_RESULTS = "results.previous.json"


def grader_fingerprint(course_file):
    """A hash of everything that decides a score: the graders, the harness and the course file."""
    digest = hashlib.sha256(Path(course_file).read_bytes())
    for root in (paths.AUTOGRADER, paths.REPO_ROOT / "coursekit"):
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(paths.REPO_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _exercise_score(results, exercise_id):
    return results.get("extra_data", {}).get("exercises", {}).get(exercise_id, {}).get("score", 0)


def _mean(values):
    return f"{round(sum(values) / len(values), 1):g}"


def class_summary(course, graded, csv_path):
    """The lines that end a run, over the whole class in `graded` ({student: (results or None, status)}):
    how many were graded, how many need a look, the mean score per exercise, where the CSV is."""
    scored = [results for results, _ in graded.values() if results is not None]
    flagged = sum(results is not None and needs_a_look(status) for results, status in graded.values())
    lines = [f"class: {len(graded)} student(s), {len(scored)} graded, {len(graded) - len(scored)} not graded "
             f"(grader failed); {flagged} of the graded have an exercise not graded or a notebook that cannot "
             "be read (see the status column)"]
    if scored:
        means = [f"{exercise.id} {_mean([_exercise_score(results, exercise.id) for results in scored])} "
                 f"/ {exercise.points}" for exercise in course.exercises]
        total = sum(exercise.points for exercise in course.exercises)
        lines.append(f"mean score of the {len(scored)} graded: {', '.join(means)}; "
                     f"total {_mean([results['score'] for results in scored])} / {total}")
    lines.append(f"class CSV: {csv_path} (first row: the points possible)")
    return lines


class ClassGrading:
    """One `grade-class` run: which students to grade, where results go, and the running totals."""

    def __init__(self, root, out, options, regrade=False):
        self.options = options
        self.course = load_course(options.course)
        self.out = Path(out)
        self.regrade = regrade
        self.submissions = find_submissions(root, exclude=[self.out], exercise_ids=self.course.ids)
        self.folders = {submission.student: submission.folder for submission in self.submissions}
        self.fingerprint = grader_fingerprint(options.course)
        self.graded = {}           # student -> (results or None, status): status.py's status column
        self.late = {submission.student: late_text(submission.folder, self.course) for submission in self.submissions}
        self.todo, self.stale, self.failures = [], [], {}
        for submission in self.submissions:
            stored = self._stored(submission.student)
            if stored is None or regrade:
                self.todo.append(submission)
            else:
                batch = stored.get("extra_data", {}).get("batch", {})
                notebooks = batch.get("notebooks")      # None: results from before notebooks were checked
                if notebooks is None:
                    notebooks = notebook_problems(submission.folder, self.course)
                self.graded[submission.student] = (stored, student_status(stored, notebooks=notebooks))
                if batch.get("fingerprint") != self.fingerprint:
                    self.stale.append(submission.student)

    def results_path(self, student):
        return self.out / student / "results.json"

    def _stored(self, student):
        try:
            return json.loads(self.results_path(student).read_text())
        except (OSError, ValueError):
            return None

    def set_aside_previous(self):
        """Move each student-to-grade's results.json to results.previous.json (a regrade, as it starts):
        until its new results are written, the student counts as not graded, for a rerun as for the CSV."""
        for submission in self.todo:
            path = self.results_path(submission.student)
            if path.exists():
                path.replace(path.with_name(PREVIOUS_RESULTS))

    def write_csv(self):
        write_class_csv(self.out / "grades.csv", self.course, self.graded, self.late)

    def record(self, student, result):
        """Write one student's log and results (a GradingResult), and the class CSV."""
        write_atomically(self.out / student / "grading.log", result.log)
        notebooks = notebook_problems(self.folders[student], self.course)
        if result.results is not None:
            result.results.setdefault("extra_data", {})["batch"] = {"fingerprint": self.fingerprint,
                                                                     "student": student, "notebooks": notebooks}
            write_json_atomically(self.results_path(student), result.results)
            self.graded[student] = (result.results, student_status(result.results, notebooks=notebooks))
            self.failures.pop(student, None)
        else:
            self.results_path(student).unlink(missing_ok=True)
            self.graded[student] = (None, student_status(None, result.problem, notebooks))
            self.failures[student] = result.problem
        self.write_csv()

    def saved(self):
        """How many of this run's students have their results written (a todo student is in
        `graded` only once recorded)."""
        return sum(self.graded.get(submission.student, (None, ""))[0] is not None for submission in self.todo)

    def summary(self):
        """The lines that end a run: this run's count, stale results, each student not graded, then the class."""
        lines = [f"graded {len(self.todo) - len(self.failures)} of {len(self.todo)} submission(s) "
                 f"({len(self.submissions) - len(self.todo)} already graded, skipped)"]
        if self.stale:
            lines.append(f"{len(self.stale)} result(s) came from other graders or another course.yml "
                         f"({', '.join(self.stale[:5])}{', ...' if len(self.stale) > 5 else ''}): "
                         "rerun with --regrade to grade them again")
        for student, problem in sorted(self.failures.items()):
            lines.append(f"NOT GRADED {student}: {problem}")
        return lines + class_summary(self.course, self.graded, self.out / "grades.csv")


class RecordWriter:
    """Writes each graded student's files (ClassGrading.record) on a thread of its own, in order.

    Python raises an interruption (Ctrl-C, or kill through the command line) in the main thread,
    so it never lands half way through a student's results.json and CSV row. Leaving the `with`
    block waits until everything handed over is written, and re-raises a write that failed.
    """

    def __init__(self, grading, progress):
        self._grading = grading
        self._progress = progress
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kit-record")
        self._writes = []

    def record(self, student, result):
        """Hand one student's GradingResult over to be written (raises what an earlier write raised)."""
        for write in self._writes:
            if write.done() and write.exception() is not None:
                write.result()          # a full disk, say: stop now rather than grade on for nothing
        self._writes.append(self._thread.submit(self._write, student, result))

    def _write(self, student, result):
        self._grading.record(student, result)
        if self._progress is not None:
            self._progress.update()

    def __enter__(self):
        return self

    def __exit__(self, error_type, error, traceback):
        interrupted = False
        while True:
            try:
                self._thread.shutdown(wait=True)
                break
            except KeyboardInterrupt:   # Ctrl-C while waiting: what was handed over is still written whole
                interrupted = True
        if error_type is None and interrupted:
            raise KeyboardInterrupt
        if error_type is None:
            for write in self._writes:
                write.result()
