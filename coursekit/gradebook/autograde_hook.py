"""The kit's scores in nbgrader's own loop: a hook that `nbgrader autograde` calls for each submission.

nbgrader_config.py sets `c.Autograde.post_convert_hook = AutogradeHook(...)`. After nbgrader has
executed a student's notebook (with the student's own module: `exclude_overwriting` keeps it) and
saved its grades, nbgrader calls the hook in its own process, never in the notebook's kernel,
which ran the student's code. The hook, for that submission:
1. grades the student's module with the kit (`pytest autograder --submission ... --exercise ID`
   in a subprocess: student code runs in the kit's sandbox, the scores are added up by the
   grader), writing `<id>.results.json` beside the autograded notebook;
2. writes each task's points (task_cells.py: one grade cell per task) into the gradebook as the
   cell's autograded score, through nbgrader's Gradebook API;
3. replaces each task cell's output in the autograded notebook with the kit's feedback for that
   task (what was checked and a hint, per lost point; never hidden inputs), which
   `nbgrader generate_feedback` then shows the student.

Why a hook and not a grade cell that asks the kit: a cell runs in the notebook's kernel after the
student's own cells, which could replace whatever the cell calls; the hook's process runs none of
the student's code. nbgrader only logs a failing hook, so the hook says on stderr when it could
not score a submission; its task cells then keep nbgrader's score, 0 (their hidden part fails).
"""

import json
import subprocess
import sys
from pathlib import Path

import nbformat

from coursekit import paths
from coursekit.config import load_course
from coursekit.gradebook.task_cells import grade_id, task_of, visible_source
from coursekit.gradebook.task_scores import TaskScore, task_scores

GRADING_SLACK_SECONDS = 120     # beyond the exercise's time budget: Python, torch, the sandbox, the graders


class KitGradingError(RuntimeError):
    """The kit could not grade a submission (a fault of the grading machine, not the student's)."""


def grade_folder(folder, exercise, course_file=paths.COURSE_FILE):
    """Grade exercise's module in `folder` with the kit; returns results.json's document (also written there)."""
    results = Path(folder) / f"{exercise.id}.results.json"
    results.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", str(paths.REPO_ROOT / "autograder"), "--submission", str(folder),
               "--exercise", exercise.id, "--course", str(course_file), "--results-json", str(results),
               "-q", "-p", "no:cacheprovider"]
    try:
        run = subprocess.run(command, cwd=paths.REPO_ROOT, capture_output=True, text=True,
                             timeout=exercise.time_budget + GRADING_SLACK_SECONDS)
    except subprocess.TimeoutExpired:
        seconds = exercise.time_budget + GRADING_SLACK_SECONDS
        raise KitGradingError(f"the kit's grading took more than {seconds:g} s") from None
    if not results.is_file():
        raise KitGradingError(f"the kit's grading wrote no results (exit status {run.returncode}):\n"
                              f"{(run.stdout + run.stderr)[-2000:]}")
    return json.loads(results.read_text(encoding="utf-8"))


def record_in_gradebook(gradebook, scores, notebook_id, assignment_id, student_id):
    """Each task's points as its cell's autograded score (replacing nbgrader's)."""
    for task, score in scores.items():
        grade = gradebook.find_grade(grade_id(task), notebook_id, assignment_id, student_id)
        grade.auto_score = score.points
        grade.needs_manual_grade = False
    gradebook.db.commit()


def write_feedback(notebook_path, scores):
    """Replace each task cell's outputs in the autograded notebook with the kit's feedback for it, and
    its source with what the student saw (nbgrader's feedback shows a cell's hidden part: here, only
    the failure that stands until the kit scores the task)."""
    notebook = nbformat.read(notebook_path, as_version=4)
    for cell in notebook.cells:
        task = task_of(cell.metadata.get("nbgrader", {}).get("grade_id", ""))
        if task in scores:
            cell.source = visible_source(cell.source)
            cell.outputs = [nbformat.v4.new_output("display_data", data={
                "text/markdown": scores[task].markdown, "text/plain": scores[task].summary})]
    nbformat.write(notebook, notebook_path)


class AutogradeHook:
    """nbgrader's Autograde.post_convert_hook: the kit's points and feedback for each submission.

    course_root:  nbgrader's course directory (where `autograded/` is)
    db_url, course_id: the gradebook's, as nbgrader_config.py sets them
    """

    def __init__(self, course_root, db_url, course_id, course_file=paths.COURSE_FILE, autograded="autograded"):
        self.course_root = Path(course_root)
        self.db_url = db_url
        self.course_id = course_id
        self.course_file = Path(course_file)
        self.autograded = autograded

    def __call__(self, assignment=None, student=None, notebooks=()):
        if not notebooks:
            return
        submitted = Path(notebooks[0]).parent        # <submitted>/<student>/<assignment>/
        student_id, assignment_id = submitted.parent.name, submitted.name
        try:
            self.score(student_id, assignment_id)
        except Exception as error:     # nbgrader would only log it at INFO: say it where the instructor looks
            print(f"coursekit: could not score {student_id}/{assignment_id} with the kit's graders: {error}; "
                  "its task cells keep 0 points until `nbgrader autograde` runs again", file=sys.stderr, flush=True)
            raise

    def score(self, student_id, assignment_id):
        """Grade one autograded submission with the kit and record its points and feedback."""
        from nbgrader.api import Gradebook

        course = load_course(self.course_file)
        if assignment_id not in course.ids:
            return
        exercise = course.exercise(assignment_id)
        folder = self.course_root / self.autograded / student_id / assignment_id
        notebook_path = folder / f"{exercise.id}.ipynb"
        if not notebook_path.is_file():
            raise KitGradingError(f"no autograded notebook at {notebook_path}")
        try:
            scores = task_scores(grade_folder(folder, exercise, self.course_file), exercise)
        except KitGradingError as error:
            write_feedback(notebook_path, dict.fromkeys(exercise.tasks, TaskScore.not_graded()))
            raise error
        with Gradebook(self.db_url, course_id=self.course_id) as gradebook:
            record_in_gradebook(gradebook, scores, exercise.id, assignment_id, student_id)
        write_feedback(notebook_path, scores)


def configure_autograde(c, course_root, course_file=paths.COURSE_FILE):
    """nbgrader_config.py's autograde settings: keep each student's own module (nbgrader would copy
    the released stub over it), and score the kit's task cells with the hook. Call after setting
    c.CourseDirectory.db_url and course_id."""
    course = load_course(course_file)
    c.Autograde.exclude_overwriting = {exercise.id: [exercise.module_file] for exercise in course.exercises}
    c.Autograde.post_convert_hook = AutogradeHook(course_root, c.CourseDirectory.db_url, c.CourseDirectory.course_id,
                                                  course_file)
