"""Grade a class: every student folder, in parallel, resumable, with a results.json each and a CSV.

Submissions are graded by the real graders (`pytest autograder/test_<id>.py ...`), each run in a
fresh fork of this process's grading server, which has torch, the harness and a zygote loaded
already (server.py); the student's code still runs in a sandbox of its own. Locally, `jobs` runs
go side by side. A run grades a whole submission, which pays pytest's start once per student;
the last `jobs` students are graded one exercise per run instead, so that the lanes end together
and a lone submission's exercises run in parallel. A student's results are merged into one
results.json once all of them are graded. With a Dask scheduler address, each submission's files
travel to a Dask worker, which grades them the same way and sends the results back.

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
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

from coursekit import paths
from coursekit.batch.csv_export import write_class_csv
from coursekit.batch.layout import find_submissions
from coursekit.batch.server import GradingServer, GradingServerError
from coursekit.config import load_course
from coursekit.grading.results import merge_results, write_json_atomically
from coursekit.grading.submission import candidate_paths

GRADED, GRADER_FAILED = "graded", "grader failed"
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
class Graded:
    """One grading (of an exercise, or of a whole submission): results (None if the grader failed), log, problem."""

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


_SERVERS = {}       # (sandbox mode, course file) -> this process's grading server, shared by its threads
_SERVERS_LOCK = threading.Lock()


def _server(options):
    key = (options.sandbox, options.course)
    with _SERVERS_LOCK:
        if key not in _SERVERS:
            _SERVERS[key] = GradingServer(options.sandbox, options.course)
        return _SERVERS[key]


def _failure(exercise_ids, results, code, seconds):
    names = ", ".join(exercise_ids)
    if code is None:
        return f"grading {names} took longer than {seconds:g} s and was stopped"
    if results is None or code not in (0, 1):
        graders = f"the {names} grader" if len(exercise_ids) == 1 else f"the graders of {names}"
        return f"{graders} failed (pytest exit code {code}); see grading.log"
    broken = [test["extra_data"]["test"] for test in results["tests"] if test["extra_data"]["status"] == "grader error"]
    if broken:
        return f"grader error in {len(broken)} test(s), first {broken[0]}; see grading.log"
    return ""


def grade_exercises(folder, exercises, options):
    """Grade some exercises of one student's folder in one pytest run of this process's grading server.

    The run may take as long as the exercises' limits added up. Returns a Graded.
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
            code = _server(options).run(argv, log_path, seconds=seconds)
        except (GradingServerError, OSError) as error:
            return Graded(None, "", f"the grading server failed: {error}")
        results = json.loads(results_path.read_text()) if results_path.exists() else None
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
    problem = _failure(ids, results, code, seconds)
    return Graded(results if not problem else None, log, problem)


def combine(course, parts):
    """One student's Graded from its parts, {exercise ids: Graded}: merged results in course order,
    or the first problem."""
    ordered = sorted(parts.items(), key=lambda part: course.ids.index(part[0][0]))
    log = "".join(f"==== {', '.join(ids)} ====\n{graded.log}" for ids, graded in ordered)
    problems = [graded.problem for _, graded in ordered if graded.problem]
    if problems:
        return Graded(None, log, problems[0])
    return Graded(merge_results([graded.results for _, graded in ordered], course.ids), log)


def grade_submission(folder, options, *, apart=False):
    """Grade every exercise of one student's folder in one run (`apart`: one run per exercise,
    one after another, merged); returns a Graded."""
    course = load_course(options.course)
    units = [[exercise] for exercise in course.exercises] if apart else [list(course.exercises)]
    return combine(course, {tuple(e.id for e in unit): grade_exercises(folder, unit, options) for unit in units})


def plan(submissions, exercises, jobs):
    """The runs that grade `submissions`: [(submission, [exercises])], in the order to start them.

    Whole submissions first (pytest starts once per student), then each exercise of the last
    `jobs` students on its own, so that the runs still going at the end are short and every
    lane is busy until then (a lone submission's exercises all run side by side).
    """
    apart = min(jobs, len(submissions))
    whole = [(submission, list(exercises)) for submission in submissions[:len(submissions) - apart]]
    return whole + [(submission, [exercise]) for submission in submissions[len(submissions) - apart:]
                    for exercise in exercises]


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


def _forget_stopped_servers():
    """Drop stopped servers, so that a later grading in this process starts a fresh one.

    Call only once no thread grades any more: until then a stopped server stays registered, and a
    grading that had yet to start fails on it instead of starting another.
    """
    with _SERVERS_LOCK:
        for key in [key for key, server in _SERVERS.items() if server.stopped]:
            del _SERVERS[key]


@atexit.register
def close_servers():
    """Stop this process's grading servers (they are kept between runs, and end with it)."""
    with _SERVERS_LOCK:
        servers = list(_SERVERS.values())
        _SERVERS.clear()
    for server in servers:
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

    def saved(self):
        """How many of this run's students have their results written (a todo student is in
        `graded` only once recorded)."""
        return sum(self.graded.get(submission.student, (None, ""))[1] == GRADED for submission in self.todo)

    def run_local(self, jobs, progress):
        """Grade the planned runs, `jobs` at once; record each student once all its exercises are in."""
        parts = {submission.student: {} for submission in self.todo}
        futures = {}
        try:
            with ThreadPoolExecutor(max_workers=jobs) as pool, _Recorder(self, progress) as recorder:
                try:
                    for submission, exercises in plan(self.todo, self.course.exercises, jobs):
                        futures[pool.submit(grade_exercises, submission.folder, exercises, self.options)] = \
                            (submission.student, tuple(exercise.id for exercise in exercises))
                    for future in as_completed(futures):
                        student, ids = futures[future]
                        parts[student][ids] = future.result()
                        if sum(len(done) for done in parts[student]) == len(self.course.exercises):
                            recorder.record(student, combine(self.course, parts.pop(student)))
                except BaseException:       # Ctrl-C, say: what is recorded stays, the rest is dropped now
                    for future in futures:
                        future.cancel()
                    _server(self.options).stop()
                    raise
        finally:
            _forget_stopped_servers()

    def run_dask(self, scheduler, progress):
        from distributed import Client, as_completed as dask_completed
        options = asdict(self.options)
        with Client(scheduler) as client, _Recorder(self, progress) as recorder:
            futures = {client.submit(grade_shipped, submission.student,
                                     shipped_files(submission.folder, self.course), options,
                                     key=f"grade-{submission.student}-{self.fingerprint}", pure=False):
                       submission.student for submission in self.todo}
            try:
                for future in dask_completed(futures):
                    try:
                        graded = Graded(**future.result())
                    except Exception as error:  # the Dask worker itself failed
                        graded = Graded(None, "", f"the Dask worker failed: {type(error).__name__}: {error}")
                    recorder.record(futures[future], graded)
            except BaseException:       # Ctrl-C, say: the gradings not yet started are cancelled
                client.cancel(list(futures), force=True)
                raise

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


class _Recorder:
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

    def record(self, student, graded):
        """Hand one student's grading over to be written (raises what an earlier write raised)."""
        for write in self._writes:
            if write.done() and write.exception() is not None:
                write.result()          # a full disk, say: stop now rather than grade on for nothing
        self._writes.append(self._thread.submit(self._write, student, graded))

    def _write(self, student, graded):
        self._grading.record(student, graded)
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


def grade_class(root, out, *, jobs=None, regrade=False, scheduler=None, options=ClassOptions(),
                progress=True, echo=print):
    """Grade every submission under `root` into `out`; returns the exit status (0: all graded).

    Raises LayoutError for a folder without students, GradingServerError if grading cannot start.
    An interruption (KeyboardInterrupt) stops the gradings under way, says how many results were
    saved, and is raised again; a rerun grades the rest.
    """
    grading = ClassGrading(root, out, options, regrade=regrade)
    write_class_csv(grading.out / "grades.csv", grading.course, grading.graded)
    bar = None
    try:
        if grading.todo and not scheduler:
            _server(options).start()    # boots while nothing else runs; a broken course stops here
        bar = _progress(len(grading.todo), progress and grading.todo)
        if scheduler:
            grading.run_dask(scheduler, bar)
        else:
            grading.run_local(jobs or len(os.sched_getaffinity(0)), bar)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
            bar = None
        echo(f"interrupted: {grading.saved()} of {len(grading.todo)} submission(s) were graded and saved "
             f"in {grading.out}; run the same command again to grade the rest")
        raise
    finally:
        if bar is not None:
            bar.close()
    for line in grading.summary():
        echo(line)
    return 3 if grading.failures else 0
