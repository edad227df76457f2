"""`python -m coursekit grade-class`: a whole class graded, resumable, one CSV, locally or on Dask.

One module for the one command: five of its tests read the class that the module-scoped fixture
`graded_class` grades once (the slow part), which each module of a split would grade again.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from coursekit import paths
from coursekit.batch.client import GradingServer
from coursekit.batch.csv_export import POINTS_POSSIBLE, class_rows
from coursekit.batch.grade_class import grade_class
from coursekit.batch.layout import LayoutError, find_submissions
from coursekit.batch.plan import plan
from coursekit.batch.runs import ClassOptions, grade_submission
from coursekit.cli import main as coursekit_main
from coursekit.config import load_course

from grader_runs import course_with, grade

EXIT_AT_IMPORT = "import os\nos._exit(0)\n"
SLOW_IMPORT = "import time\ntime.sleep(2)\n"
# `python -m coursekit ...` with Ctrl-C's usual handler, even where this test runs with SIGINT ignored
RUN_WITH_CTRL_C = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                   "sys.argv[:] = sys.argv[1:]; runpy.run_module('coursekit', run_name='__main__')")


def make_class(root):
    """Four students: the batchnorm reference (nbgrader layout), the stubs, an attack, nothing."""
    submitted = root / "submitted"
    (submitted / "ada" / "batchnorm").mkdir(parents=True)
    shutil.copy(paths.SOLUTIONS / "batchnorm" / "batchnorm.py", submitted / "ada" / "batchnorm")
    (submitted / "bo").mkdir()
    for exercise in ("batchnorm", "dropout"):
        shutil.copy(paths.ASSIGNMENTS / exercise / f"{exercise}.py", submitted / "bo")
    (submitted / "cy" / "batchnorm").mkdir(parents=True)
    (submitted / "cy" / "batchnorm" / "batchnorm.py").write_text(EXIT_AT_IMPORT)
    (submitted / "di").mkdir()
    return root


def read_csv(path):
    """The class CSV's student rows (the points-possible row, which comes first, checked and left out)."""
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert rows[0]["student"] == POINTS_POSSIBLE
    return rows[1:]


def test_both_layouts_are_found_and_the_output_folder_is_not_a_student(tmp_path):
    assert [s.student for s in find_submissions(make_class(tmp_path / "nbgrader"))] == ["ada", "bo", "cy", "di"]
    plain = tmp_path / "plain"
    (plain / "eve").mkdir(parents=True)
    (plain / ".ipynb_checkpoints").mkdir()
    (plain / "grades").mkdir()
    assert [s.student for s in find_submissions(plain, exclude=[plain / "grades"])] == ["eve"]
    with pytest.raises(LayoutError, match="no student folders"):
        find_submissions(tmp_path / "plain" / "eve")


def test_a_student_with_no_results_gets_blank_scores_and_the_reason():
    course = load_course(paths.COURSE_FILE)
    results = {"score": 7.0, "extra_data": {"exercises": {"batchnorm": {"score": 7.0}}}}
    rows = class_rows(course, {"b": (None, "grader failed: it broke"), "a": (results, "graded")})
    assert [row["student"] for row in rows] == ["a", "b"]
    assert rows[0]["batchnorm"] == "7" and rows[0]["dropout"] == "" and rows[0]["total"] == "7"
    assert rows[1]["total"] == "" and rows[1]["status"] == "grader failed: it broke"


def test_exercises_graded_one_run_each_merge_into_the_one_run_results(tmp_path):
    whole, _ = grade(solutions=True, tmp_path=tmp_path)
    with GradingServer() as server:
        together = grade_submission(paths.SOLUTIONS, ClassOptions(), server)
        split = grade_submission(paths.SOLUTIONS, ClassOptions(), server, one_run_per_exercise=True)
    assert not split.problem and split.results["score"] == split.results["max_score"] > 0
    for results in (whole, together.results, split.results):
        results.pop("execution_time")
    assert split.results == whole
    assert together.results == whole


def test_whole_submissions_run_first_and_the_last_students_are_graded_one_exercise_per_run():
    course = load_course(paths.COURSE_FILE)
    runs = plan(["a", "b", "c", "d"], course.exercises, jobs=2)
    assert [(student, exercises) for student, exercises in runs[:2]] == [("a", list(course.exercises)),
                                                                         ("b", list(course.exercises))]
    assert [(student, [e.id for e in exercises]) for student, exercises in runs[2:]] == \
        [(student, [exercise.id]) for student in "cd" for exercise in course.exercises]
    assert all(len(exercises) == 1 for _, exercises in plan(["a"], course.exercises, jobs=4))


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    root = make_class(tmp_path_factory.mktemp("class"))
    out = root / "grades"
    lines = []
    status = grade_class(root, out, jobs=2, progress=False, echo=lines.append)
    return root, out, status, lines


def test_every_student_gets_results_and_a_csv_row(graded_class):
    root, out, status, _ = graded_class
    assert status == 0
    rows = {row["student"]: row for row in read_csv(out / "grades.csv")}
    assert list(rows) == ["ada", "bo", "cy", "di"]
    assert rows["ada"]["batchnorm"] == "74" and rows["ada"]["total"] == "74"
    assert rows["bo"]["total"] == "0" and rows["cy"]["total"] == "0"
    course = load_course(paths.COURSE_FILE)
    missing = {exercise_id: f"{exercise_id}: missing" for exercise_id in course.ids}
    assert rows["ada"]["status"] == "; ".join(["graded", *list(missing.values())[1:]])
    assert rows["bo"]["status"] == "; ".join(["graded", *list(missing.values())[2:]])   # stubs: graded, scoring 0
    assert rows["cy"]["status"].startswith("graded; batchnorm: not loaded: ")
    assert rows["di"]["status"] == "; ".join(["graded", *missing.values()])
    for student in rows:
        results = json.loads((out / student / "results.json").read_text())
        assert results["max_score"] == sum(e.points for e in load_course(paths.COURSE_FILE).exercises)
        assert results["extra_data"]["batch"]["student"] == student


def test_the_run_ends_with_the_class_and_each_exercises_mean(graded_class):
    _, out, _, lines = graded_class
    rows = read_csv(out / "grades.csv")
    assert lines[-4].startswith("class: 4 student(s), 4 graded, 0 not graded (grader failed); 4 of the graded")
    means = [f"{exercise.id} {sum(float(row[exercise.id]) for row in rows) / len(rows):g} / {exercise.points}"
             for exercise in load_course(paths.COURSE_FILE).exercises]
    assert lines[-3].startswith(f"mean score of the 4 graded: {', '.join(means)}; total ")
    assert lines[-2].startswith(f"class CSV: {out / 'grades.csv'}")
    assert lines[-1].startswith(f"class report: {out / 'report.html'}; each graded student's feedback: ")


def test_the_run_writes_the_class_report_and_each_students_feedback_pages(graded_class):
    _, out, _, _ = graded_class
    report = (out / "report.html").read_text()
    assert report.count('<img class="figure"') == len(load_course(paths.COURSE_FILE).exercises) + 1
    for student in ("ada", "bo", "cy", "di"):
        page = (out / student / "feedback.md").read_text()
        assert page.startswith(f"# Feedback for {student}") and (out / student / "feedback.html").exists()
    assert "Every test passed." in (out / "ada" / "feedback.md").read_text()


def test_one_students_exit_at_import_costs_only_that_student(graded_class):
    _, out, _, _ = graded_class
    cy = json.loads((out / "cy" / "results.json").read_text())
    batchnorm = [test for test in cy["tests"] if test["tags"][0] == "batchnorm"]
    assert all(test["extra_data"]["status"] == "error in your code" or "could not be loaded" in test["output"]
               for test in batchnorm)
    ada = json.loads((out / "ada" / "results.json").read_text())
    assert ada["extra_data"]["exercises"]["batchnorm"]["score"] == 74


def test_a_rerun_grades_only_what_is_missing_and_regrade_grades_all(graded_class, tmp_path):
    root, out, _, _ = graded_class
    copy = tmp_path / "grades"
    shutil.copytree(out, copy)
    (copy / "bo" / "results.json").unlink()                 # as if the run had been killed before bo
    untouched = (copy / "ada" / "results.json").stat().st_mtime_ns
    lines = []
    assert grade_class(root, copy, jobs=1, progress=False, echo=lines.append) == 0
    assert lines[0].startswith("graded 1 of 1 submission(s) (3 already graded, skipped)")
    assert (copy / "ada" / "results.json").stat().st_mtime_ns == untouched
    assert read_csv(copy / "grades.csv") == read_csv(out / "grades.csv")
    ada = json.loads((copy / "ada" / "results.json").read_text())
    ada["extra_data"]["batch"]["fingerprint"] = "older-graders"
    (copy / "ada" / "results.json").write_text(json.dumps(ada))
    lines = []
    grade_class(root, copy, jobs=1, progress=False, echo=lines.append)
    assert any("1 result(s) came from other graders" in line and "ada" in line for line in lines)
    lines = []
    grade_class(root, copy, jobs=2, regrade=True, progress=False, echo=lines.append)
    assert lines[0].startswith("graded 4 of 4")
    assert not any("other graders" in line for line in lines)
    assert json.loads((copy / "ada" / "results.previous.json").read_text())["extra_data"]["batch"]["fingerprint"] == \
        "older-graders"                                     # a regrade sets the earlier results aside
    assert read_csv(copy / "grades.csv") == read_csv(out / "grades.csv")


def test_a_grader_that_fails_is_reported_and_the_exit_status_says_so(tmp_path):
    root = tmp_path / "class"
    (root / "ada" / "batchnorm").mkdir(parents=True)
    shutil.copy(paths.SOLUTIONS / "batchnorm" / "batchnorm.py", root / "ada" / "batchnorm")
    lines = []
    status = grade_class(root, tmp_path / "out", jobs=1, progress=False, echo=lines.append,
                         options=ClassOptions(seconds=0.01))
    assert status != 0
    assert any(line.startswith("NOT GRADED ada: grading batchnorm took longer than 0.01 s") for line in lines)
    assert not (tmp_path / "out" / "ada" / "results.json").exists()     # so a rerun grades it
    assert read_csv(tmp_path / "out" / "grades.csv")[0]["status"].startswith("grader failed")


def test_results_that_cannot_be_written_stop_the_run_with_the_reason(graded_class, tmp_path, monkeypatch):
    import coursekit.batch.records as records_module
    root, _, _, _ = graded_class

    def disk_full(path, results):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(records_module, "write_json_atomically", disk_full)
    with pytest.raises(OSError, match="No space left on device"):
        grade_class(root, tmp_path / "out", jobs=2, progress=False, echo=lambda line: None)


def test_the_command_line_reports_a_folder_without_students(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert coursekit_main(["grade-class", str(tmp_path / "empty"), "--out", str(tmp_path / "out")]) == 2
    assert "no student folders" in capsys.readouterr().err


def test_a_course_file_naming_a_class_that_does_not_exist_stops_the_run_before_any_grading(tmp_path, capsys):
    course = course_with(tmp_path, **{"- torch.nn.LayerNorm": "- torch.nn.LayerNormal"})
    (tmp_path / "class" / "ada").mkdir(parents=True)
    status = coursekit_main(["--course", str(course), "grade-class", str(tmp_path / "class"),
                             "--out", str(tmp_path / "out"), "--no-progress"])
    assert status == 2
    assert "torch.nn.LayerNormal" in capsys.readouterr().err
    assert not (tmp_path / "out" / "ada").exists()


def test_a_dask_cluster_grades_the_class_to_the_same_csv(graded_class, tmp_path):
    distributed = pytest.importorskip("distributed")
    root, out, _, _ = graded_class
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True,
                                  dashboard_address=None) as cluster:
        status = grade_class(root, tmp_path / "dask", scheduler=cluster.scheduler_address,
                             progress=False, echo=lambda line: None)
    assert status == 0
    assert (tmp_path / "dask" / "grades.csv").read_text() == (out / "grades.csv").read_text()


def test_a_grading_server_whose_zygote_stopped_starts_another_for_the_next_child():
    from coursekit.batch.server import _Children
    from coursekit.grading.sandbox import Isolation
    from coursekit.grading.zygote_client import ZygoteClient
    started = []
    children = _Children(lambda: started.append(ZygoteClient(Isolation("none"), 1 << 20)) or started[-1])
    try:
        first = children.shared
        first.process.kill()                    # as the kernel's OOM killer might
        first.process.wait()
        connection = children.connection()
        assert connection is not None and children.shared is not first and children.shared.alive
        assert connection.reset() == 0 and len(started) == 2       # the new zygote answers
        connection.close()
    finally:
        for zygote in started:
            zygote.close()


def test_a_grading_server_leaves_no_staged_files_behind(tmp_path, monkeypatch):
    from coursekit.batch.client import GradingServer
    monkeypatch.setenv("TMPDIR", str(tmp_path))     # where the server's zygote stages its files
    server = GradingServer()
    server.start()
    try:
        assert [path.name for path in tmp_path.iterdir() if path.name.startswith("kit-zygote-")]
    finally:
        server.close()
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith("kit-zygote-")]


def ctrl_c(process):
    """What a terminal does: SIGINT to every process of the foreground group."""
    os.killpg(process.pid, signal.SIGINT)


def kill(process):
    process.send_signal(signal.SIGTERM)


@pytest.mark.parametrize("stop, sandbox", [(ctrl_c, "auto"), (kill, "auto"), (kill, "none")],
                         ids=["ctrl-c", "kill", "kill-without-bubblewrap"])
def test_an_interrupted_run_keeps_what_it_graded_says_so_and_leaves_nothing_behind(tmp_path, stop, sandbox):
    root, out, scratch = tmp_path / "class", tmp_path / "out", tmp_path / "tmp"
    reference = (paths.SOLUTIONS / "batchnorm" / "batchnorm.py").read_text()
    for number in range(12):    # after the first, slow imports: the stop finds a worker running
        (root / f"s{number:02d}").mkdir(parents=True)
        (root / f"s{number:02d}" / "batchnorm.py").write_text(("" if number == 0 else SLOW_IMPORT) + reference)
    scratch.mkdir()
    argv = ["coursekit", "grade-class", str(root), "--out", str(out), "--jobs", "1", "--no-progress",
            "--sandbox", sandbox]
    run = subprocess.Popen([sys.executable, "-c", RUN_WITH_CTRL_C, *argv], cwd=paths.REPO_ROOT, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": str(scratch)},
                           start_new_session=True)      # a process group of its own, as in a terminal
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob("*/results.json")) and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        stop(run)
        output, _ = run.communicate(timeout=60)
    finally:
        run.kill()
    assert run.returncode == 130, output
    saved = sorted(path.parent.name for path in out.glob("*/results.json"))
    assert f"interrupted: {len(saved)} of 12 submission(s) were graded and saved" in output
    assert f"grade-class {root} --out {out} --jobs 1 --sandbox {sandbox}\n" in output     # the command for the rest
    assert 1 <= len(saved) < 12
    assert [row["student"] for row in read_csv(out / "grades.csv")] == saved
    assert all(json.loads((out / student / "results.json").read_text())["score"] > 0 for student in saved)
    assert "Traceback" not in output
    assert not list(scratch.glob("kit-*"))      # no grading's, worker's or zygote's temporary folder is left
