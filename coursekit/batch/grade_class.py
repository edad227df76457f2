"""Grade a class: every student folder, in parallel, resumable, with a results.json each and a CSV.

Each submission is graded by the real grader (`pytest autograder`), run in a fresh fork of a
grading server that has torch, the harness and a zygote loaded already (server.py); each of its
exercises still runs in a sandbox of its own. Locally, `jobs` servers grade side by side; with a
Dask scheduler address, each submission's files travel to a Dask worker, which grades them the
same way and sends the results back.

Output, under `out`:
    <student>/results.json   Gradescope's results, plus extra_data.batch (grader fingerprint)
    <student>/grading.log    the grader's terminal output, for staff
    grades.csv               student, each exercise's score, total, status
Each file is written atomically. A rerun skips students whose results.json exists, unless
`regrade`; results from other graders (a changed test or course.yml) are counted and named.
"""

import atexit
import hashlib
import json
import os
import queue
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from coursekit import paths
from coursekit.batch.csv_export import write_class_csv
from coursekit.batch.layout import find_submissions
from coursekit.batch.server import GradingServer, GradingServerError
from coursekit.config import load_course
from coursekit.grading.results import write_json_atomically
from coursekit.grading.submission import candidate_paths

GRADED, GRADER_FAILED = "graded", "grader failed"
_EXTRA_SECONDS = 120     # a whole submission's limit: every exercise's time budget, plus this


@dataclass(frozen=True)
class ClassOptions:
    """How to grade: the course file, `--sandbox` mode (None: course.yml's) and the run's limit."""

    course: str = str(paths.COURSE_FILE)
    sandbox: str | None = None
    seconds: float = 900.0


@dataclass
class Graded:
    """One submission's grading: its results (None if the grader failed), log, and what went wrong."""

    results: dict | None
    log: str
    problem: str = ""


def grader_fingerprint(course_file):
    """A hash of everything that decides a score: the graders, the harness and the course file."""
    digest = hashlib.sha256(Path(course_file).read_bytes())
    for root in (paths.AUTOGRADER, paths.REPO_ROOT / "coursekit"):
        for path in sorted(root.rglob("*.py")):
            digest.update(str(path.relative_to(paths.REPO_ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


_IDLE_SERVERS = queue.SimpleQueue()     # this process's idle grading servers: (sandbox mode, server)


def _borrow_server(mode):
    kept = []
    try:
        while True:
            server_mode, server = _IDLE_SERVERS.get_nowait()
            if server_mode == mode:
                return server
            kept.append((server_mode, server))
    except queue.Empty:
        return GradingServer(mode)
    finally:
        for entry in kept:
            _IDLE_SERVERS.put(entry)


def _failure(results, code, seconds):
    if code is None:
        return f"grading took longer than {seconds:g} s and was stopped"
    if results is None or code not in (0, 1):
        return f"the grader failed (pytest exit code {code}); see grading.log"
    broken = [test["extra_data"]["test"] for test in results["tests"] if test["extra_data"]["status"] == "grader error"]
    if broken:
        return f"grader error in {len(broken)} test(s), first {broken[0]}; see grading.log"
    return ""


def grade_submission(folder, options):
    """Grade one student's folder with a grading server of this process; returns a Graded."""
    server = _borrow_server(options.sandbox)
    with tempfile.TemporaryDirectory(prefix="kit-grade-") as scratch:
        results_path, log_path = Path(scratch) / "results.json", Path(scratch) / "grading.log"
        argv = [str(paths.AUTOGRADER), "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                "--submission", str(folder), "--results-json", str(results_path), "--course", options.course]
        if options.sandbox:
            argv += ["--sandbox", options.sandbox]
        try:
            code = server.run(argv, log_path, seconds=options.seconds)
        except (GradingServerError, OSError) as error:
            server.close()
            return Graded(None, "", f"the grading server failed: {error}")
        _IDLE_SERVERS.put((options.sandbox, server))
        results = json.loads(results_path.read_text()) if results_path.exists() else None
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
    problem = _failure(results, code, options.seconds)
    return Graded(results if not problem else None, log, problem)


def grade_shipped(student, files, options):
    """On a Dask worker: rebuild a student's folder from {relative path: bytes} and grade it."""
    with tempfile.TemporaryDirectory(prefix="kit-shipped-") as scratch:
        folder = Path(scratch) / student
        for relative, data in files.items():
            target = folder / relative
            if not target.resolve().is_relative_to(folder.resolve()):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        folder.mkdir(exist_ok=True)
        graded = grade_submission(folder, ClassOptions(**options))
    return asdict(graded)


def shipped_files(folder, course):
    """The files a Dask worker needs to grade a student's folder: each exercise's candidates."""
    files = {}
    for exercise in course.exercises:
        for candidate in candidate_paths(exercise):
            path = Path(folder) / candidate
            if path.is_file():
                files[str(candidate)] = path.read_bytes()
    return files


@atexit.register
def close_servers():
    """Stop this process's idle grading servers (they are kept between runs, and end with it)."""
    while True:
        try:
            _, server = _IDLE_SERVERS.get_nowait()
        except queue.Empty:
            return
        server.close()


def _progress(total, enabled):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="submission", file=sys.stderr, dynamic_ncols=True)


class ClassGrading:
    """One `grade-class` run: which students to grade, where results go, and the running totals."""

    def __init__(self, root, out, options, regrade=False):
        self.options = options
        self.course = load_course(options.course)
        self.out = Path(out)
        self.submissions = find_submissions(root, exclude=[self.out])
        self.fingerprint = grader_fingerprint(options.course)
        self.graded = {}           # student -> (results or None, status)
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

    def record(self, student, graded):
        """Write one student's log and results (atomically), and the class CSV."""
        folder = self.out / student
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "grading.log").write_text(graded.log)
        if graded.results is not None:
            graded.results.setdefault("extra_data", {})["batch"] = {"fingerprint": self.fingerprint,
                                                                     "student": student}
            write_json_atomically(self.results_path(student), graded.results)
            self.graded[student] = (graded.results, GRADED)
            self.failures.pop(student, None)
        else:
            self.results_path(student).unlink(missing_ok=True)
            self.graded[student] = (None, f"{GRADER_FAILED}: {graded.problem}")
            self.failures[student] = graded.problem
        write_class_csv(self.out / "grades.csv", self.course, self.graded)

    def run_local(self, jobs, progress):
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(grade_submission, submission.folder, self.options): submission.student
                       for submission in self.todo}
            try:
                for future in as_completed(futures):
                    self.record(futures[future], future.result())
                    if progress is not None:
                        progress.update()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise

    def run_dask(self, scheduler, progress):
        from distributed import Client, as_completed as dask_completed
        options = asdict(self.options)
        with Client(scheduler) as client:
            futures = {client.submit(grade_shipped, submission.student,
                                     shipped_files(submission.folder, self.course), options,
                                     key=f"grade-{submission.student}-{self.fingerprint}", pure=False):
                       submission.student for submission in self.todo}
            for future in dask_completed(futures):
                try:
                    graded = Graded(**future.result())
                except Exception as error:  # the Dask worker itself failed
                    graded = Graded(None, "", f"the Dask worker failed: {type(error).__name__}: {error}")
                self.record(futures[future], graded)
                if progress is not None:
                    progress.update()

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


def grade_class(root, out, *, jobs=None, regrade=False, scheduler=None, options=ClassOptions(),
                progress=True, echo=print):
    """Grade every submission under `root` into `out`; returns the exit status (0: all graded)."""
    grading = ClassGrading(root, out, options, regrade=regrade)
    write_class_csv(grading.out / "grades.csv", grading.course, grading.graded)
    bar = _progress(len(grading.todo), progress and grading.todo)
    try:
        if scheduler:
            grading.run_dask(scheduler, bar)
        else:
            grading.run_local(jobs or len(os.sched_getaffinity(0)), bar)
    finally:
        if bar is not None:
            bar.close()
    for line in grading.summary():
        echo(line)
    return 3 if grading.failures else 0


def submission_seconds(course):
    """The whole-submission limit: every exercise's time budget, plus room for the grader itself."""
    return sum(exercise.time_budget for exercise in course.exercises) + _EXTRA_SECONDS

