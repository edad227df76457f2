"""What a class grading writes, and what it knows of the class: who is to grade, who is done.

Under `out`:
    <student>/results.json   Gradescope's results, plus extra_data.batch (grader fingerprint)
    <student>/grading.log    the grader's terminal output, for staff
    grades.csv               student, each exercise's score, total, status
Each file is written atomically (coursekit/atomic_write.py). A rerun skips students whose
results.json exists, unless `regrade`; results from other graders (a changed test or course.yml)
are counted and named.
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
from coursekit.config import load_course

GRADED, GRADER_FAILED = "graded", "grader failed"


def grader_fingerprint(course_file):
    """A hash of everything that decides a score: the graders, the harness and the course file."""
    digest = hashlib.sha256(Path(course_file).read_bytes())
    for root in (paths.AUTOGRADER, paths.REPO_ROOT / "coursekit"):
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(paths.REPO_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


class ClassGrading:
    """One `grade-class` run: which students to grade, where results go, and the running totals."""

    def __init__(self, root, out, options, regrade=False):
        self.options = options
        self.course = load_course(options.course)
        self.out = Path(out)
        self.submissions = find_submissions(root, exclude=[self.out])
        self.fingerprint = grader_fingerprint(options.course)
        self.graded = {}           # student -> (results or None, status)
        self.late = {submission.student: late_text(submission.folder, self.course) for submission in self.submissions}
        self.todo, self.stale, self.failures = [], [], {}
        for submission in self.submissions:
            stored = self._stored(submission.student)
            if stored is None or regrade:
                self.todo.append(submission)
            else:
                self.graded[submission.student] = (stored, GRADED)
                if stored.get("extra_data", {}).get("batch", {}).get("fingerprint") != self.fingerprint:
                    self.stale.append(submission.student)

    def results_path(self, student):
        return self.out / student / "results.json"

    def _stored(self, student):
        try:
            return json.loads(self.results_path(student).read_text())
        except (OSError, ValueError):
            return None

    def write_csv(self):
        write_class_csv(self.out / "grades.csv", self.course, self.graded, self.late)

    def record(self, student, result):
        """Write one student's log and results (a GradingResult), and the class CSV."""
        write_atomically(self.out / student / "grading.log", result.log)
        if result.results is not None:
            result.results.setdefault("extra_data", {})["batch"] = {"fingerprint": self.fingerprint,
                                                                     "student": student}
            write_json_atomically(self.results_path(student), result.results)
            self.graded[student] = (result.results, GRADED)
            self.failures.pop(student, None)
        else:
            self.results_path(student).unlink(missing_ok=True)
            self.graded[student] = (None, f"{GRADER_FAILED}: {result.problem}")
            self.failures[student] = result.problem
        self.write_csv()

    def saved(self):
        """How many of this run's students have their results written (a todo student is in
        `graded` only once recorded)."""
        return sum(self.graded.get(submission.student, (None, ""))[1] == GRADED for submission in self.todo)

    def summary(self):
        lines = [f"graded {len(self.todo) - len(self.failures)} of {len(self.todo)} submission(s) "
                 f"({len(self.submissions) - len(self.todo)} already graded, skipped); "
                 f"class CSV: {self.out / 'grades.csv'}"]
        if self.stale:
            lines.append(f"{len(self.stale)} result(s) came from other graders or another course.yml "
                         f"({', '.join(self.stale[:5])}{', ...' if len(self.stale) > 5 else ''}): "
                         "rerun with --regrade to grade them again")
        for student, problem in sorted(self.failures.items()):
            lines.append(f"NOT GRADED {student}: {problem}")
        return lines


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
