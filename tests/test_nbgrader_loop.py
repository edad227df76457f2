"""nbgrader's whole loop with the kit's scores, run with nbgrader's real commands on a small class.

A course directory in nbgrader's layout, configured as the repository's nbgrader_config.py is
(configure_autograde), with batchnorm (the quickest notebook) released from the staged source and
four submissions in the exchange's inbound folder: the reference, the untouched stub (its notebook
forging full marks on the task cells, and a cell that would show if it ran), a catalogued
mutant handed in late and without the notebook, and a module with a syntax error. Then, as an
instructor: `nbgrader collect`, `python -m coursekit nbgrader-prepare`, `nbgrader autograde`, a
written answer graded through the gradebook as the formgrader would, `nbgrader export` and
`nbgrader generate_feedback`.
"""

import ast
import csv
import html
import shutil
import subprocess
import sys

import nbformat
import pytest

from coursekit import paths, release
from coursekit.config import load_course
from coursekit.gradebook.task_cells import grade_id

from catalogues import CATALOGUE_DIR, load_catalogue, stub_source
from grader_runs import reference_source

EXERCISE = "batchnorm"
COURSE_ID = load_course(paths.COURSE_FILE).id
WRITTEN_ANSWER = "bn_written_answer"
MUTANT = "unbiased_var_in_normalisation"        # task batch_norm
ON_TIME, LATE = "2027-01-20 10:00:00.000000 UTC", "2027-02-03 10:00:00.000000 UTC"

CONFIG = '''from coursekit.gradebook.kit_scores import configure_autograde
c = get_config()
c.CourseDirectory.course_id = "{course_id}"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
c.Exchange.root = "{root}/exchange"
configure_autograde(c)
'''


def nbgrader(course_root, *args):
    run = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course_root, capture_output=True,
                         text=True, env=release.nbgrader_environment(), timeout=600)
    assert run.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{run.stdout[-3000:]}{run.stderr[-3000:]}"
    return run


def forged_notebook(released, folder, marker):
    """The released notebook with a forged full-marks output on every task cell, and a first code cell
    that would leave `marker` behind if anyone ran it."""
    notebook = nbformat.read(released, as_version=4)
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("kit_"):
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "1000"}, execution_count=1)]
    notebook.cells.insert(0, nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w').write('ran')"))
    path = folder / "forged.ipynb"
    nbformat.write(notebook, path)
    return path


def _hand_in(inbound, student, module_source, timestamp, notebook):
    folder = inbound / f"{student}+{EXERCISE}+{timestamp}+{student}"
    folder.mkdir(parents=True)
    (folder / f"{EXERCISE}.py").write_text(module_source, encoding="utf-8")
    (folder / "timestamp.txt").write_text(timestamp, encoding="utf-8")       # as `nbgrader submit` writes it
    if notebook is not None:
        shutil.copyfile(notebook, folder / f"{EXERCISE}.ipynb")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("nbgrader-course")
    (root / "nbgrader_config.py").write_text(CONFIG.format(course_id=COURSE_ID, root=root), encoding="utf-8")
    exercise = load_course(paths.COURSE_FILE).exercise(EXERCISE)
    release.stage_source(exercise, root / "source")
    nbgrader(root, "generate_assignment", EXERCISE, "--force")
    release.record_due_date(exercise, f"sqlite:///{root}/gradebook.db", COURSE_ID)    # as `make release` does
    released_notebook = root / "release" / EXERCISE / f"{EXERCISE}.ipynb"
    inbound = root / "exchange" / COURSE_ID / "inbound"
    mutant = next(s for s in load_catalogue(CATALOGUE_DIR / f"{EXERCISE}.yml") if s.id == MUTANT)
    reference = reference_source(EXERCISE)
    forged = forged_notebook(released_notebook, root, root / "notebook-code-ran")
    for student, source, timestamp, notebook in [
            ("ada", reference, ON_TIME, released_notebook), ("bo", stub_source(EXERCISE), ON_TIME, forged),
            ("cy", mutant.source, LATE, None), ("di", "def batch_norm(:\n", ON_TIME, released_notebook)]:
        _hand_in(inbound, student, source, timestamp, notebook)
    nbgrader(root, "collect", EXERCISE)
    prepare = subprocess.run([sys.executable, "-m", "coursekit", "nbgrader-prepare", EXERCISE, "--course-dir",
                              str(root), "--release", str(root / "release")], capture_output=True, text=True,
                             timeout=120)
    assert prepare.returncode == 0 and "for 1 submission(s) without one: cy" in prepare.stdout, prepare
    nbgrader(root, "autograde", EXERCISE)
    return root


def _gradebook(root):
    from nbgrader.api import Gradebook
    return Gradebook(f"sqlite:///{root}/gradebook.db", course_id=COURSE_ID)


def code_lines(path):
    """The stripped lines of a module's code: not its docstrings, nor lines that continue a string
    (a grader's messages and descriptions are meant for the student)."""
    source = path.read_text(encoding="utf-8")
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            docstrings |= set(range(first.lineno, first.end_lineno + 1))
    return [line.strip() for number, line in enumerate(source.splitlines(), 1)
            if number not in docstrings and not line.strip().startswith(('"', "'", "f\"", "f'", "#"))]


def test_autograde_keeps_each_students_own_module(course):
    assert (course / "autograded" / "ada" / EXERCISE / f"{EXERCISE}.py").read_text() == reference_source(EXERCISE)


def test_no_notebook_code_runs_and_no_handed_in_output_scores(course):
    assert not (course / "notebook-code-ran").exists()      # bo's first cell would have written it
    with _gradebook(course) as gradebook:                      # bo forged 1000 points on every task cell
        assert gradebook.find_submission(EXERCISE, "bo").score == 0


def test_the_gradebook_holds_the_kits_points_per_task(course):
    tasks = load_course(paths.COURSE_FILE).exercise(EXERCISE).tasks
    with _gradebook(course) as gradebook:
        def points(student, task):
            return gradebook.find_grade(grade_id(task), EXERCISE, EXERCISE, student).score
        assert {task: points("ada", task) for task in tasks} == tasks                 # the reference: full marks
        assert all(points("bo", task) == 0 for task in tasks)                        # the stub: nothing
        assert 0 < points("cy", "batch_norm") < tasks["batch_norm"]                  # the mutant: partial credit
        assert all(points("cy", task) == tasks[task] for task in tasks if task != "batch_norm")
        assert all(points("di", task) == 0 for task in tasks)                        # a syntax error: nothing


def test_export_adds_the_kits_points_and_the_graded_written_answer(course):
    with _gradebook(course) as gradebook:            # as the formgrader does when a grader types a score
        grade = gradebook.find_grade(WRITTEN_ANSWER, EXERCISE, EXERCISE, "ada")
        grade.manual_score = grade.max_score
        gradebook.db.commit()
        written = grade.max_score
    nbgrader(course, "export", "--to", str(course / "grades.csv"))
    rows = {row["student_id"]: row for row in csv.DictReader((course / "grades.csv").open())}
    kit_points = load_course(paths.COURSE_FILE).exercise(EXERCISE).points
    assert float(rows["ada"]["max_score"]) == kit_points + written
    assert float(rows["ada"]["score"]) == kit_points + written
    assert float(rows["bo"]["score"]) == 0
    assert 0 < float(rows["cy"]["score"]) < kit_points        # its written answer not graded yet


def test_a_late_submission_is_flagged_as_nbgrader_does(course):
    with _gradebook(course) as gradebook:
        assert gradebook.find_submission(EXERCISE, "cy").total_seconds_late > 0
        assert gradebook.find_submission(EXERCISE, "ada").total_seconds_late == 0


def test_feedback_shows_the_kits_messages_and_no_hidden_input(course):
    nbgrader(course, "generate_feedback", EXERCISE)
    mutant_page = (course / "feedback" / "cy" / EXERCISE / f"{EXERCISE}.html").read_text(encoding="utf-8")
    broken_page = (course / "feedback" / "di" / EXERCISE / f"{EXERCISE}.html").read_text(encoding="utf-8")
    assert "of the hidden tests of" in mutant_page and "Hint:" in mutant_page
    assert "without this notebook" in mutant_page        # the kit added it: the module was graded
    assert "SyntaxError" in broken_page
    released = (course / "release" / EXERCISE / f"{EXERCISE}.ipynb").read_text(encoding="utf-8")
    hidden = {line for path in (paths.REPO_ROOT / "autograder" / f"test_{EXERCISE}.py",
                                paths.REPO_ROOT / "autograder" / "scenarios" / f"{EXERCISE}.py")
              for line in code_lines(path) if len(line) > 30 and line not in released}
    for page in (mutant_page, broken_page):
        text = html.unescape(page)
        assert "BEGIN HIDDEN TESTS" not in text
        assert not [line for line in hidden if line in text]      # no line of the hidden graders
