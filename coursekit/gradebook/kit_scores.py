"""The kit's scores in nbgrader's own loop: a step of `nbgrader autograde` that scores the task cells.

nbgrader_config.py (`configure_autograde`) puts `KitScores` first among nbgrader's autograde
preprocessors and takes out its `Execute` (and the sanitize step's `ClearOutput`): nbgrader never
runs a student's notebook, whose code would run unconfined, as the instructor, in the course
folder beside the hidden graders. The notebook keeps the outputs the student handed in (the plots
the written answers are about). For each submitted notebook of a kit exercise, in nbgrader's own
process, KitScores:
1. grades the student's module beside it (`exclude_overwriting` keeps the student's own) with the
   kit: `pytest autograder --exercise ID` in a subprocess, student code in the kit's sandbox;
2. gives each task cell (task_cells.py) the kit's feedback for that task (what was checked and a
   hint per lost point; never hidden inputs) and its points as nbgrader reads them: a number as
   the cell's result (partial credit), or an error for 0 (nbgrader counts a cell without an error
   or a number as full marks);
3. clears every other autograded cell's outputs (none in this course: no handed-in output scores).
nbgrader's own steps then save the grades, apply late penalties and write the notebook, which
`nbgrader generate_feedback` shows. A submission the kit cannot grade fails loudly, as nbgrader
fails any submission it cannot process: no score is recorded for it, and nbgrader exits non-zero.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from coursekit import paths
from coursekit.batch.runs import ClassOptions, grading_failure
from coursekit.config import load_course
from coursekit.gradebook.task_cells import task_of, visible_source
from coursekit.gradebook.task_scores import task_scores


class KitGradingError(RuntimeError):
    """The kit could not grade a submission (a fault of the grading machine, not the student's)."""


def grade_folder(folder, exercise, course_file=paths.COURSE_FILE):
    """Grade exercise's module in `folder` with the kit, in a subprocess, within grade-class's limit for
    one exercise (runs.py); returns results.json's document, or raises KitGradingError as grade-class
    reports a grader's failure."""
    seconds = ClassOptions().limit(exercise)
    with tempfile.TemporaryDirectory(prefix="kit-nbgrader-") as scratch:
        results = Path(scratch) / "results.json"
        command = [sys.executable, "-m", "pytest", str(paths.AUTOGRADER), "--submission", str(folder),
                   "--exercise", exercise.id, "--course", str(course_file), "--results-json", str(results),
                   "-q", "-p", "no:cacheprovider"]
        process = subprocess.Popen(command, cwd=paths.REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   text=True, start_new_session=True)
        try:
            output, _ = process.communicate(timeout=seconds)
            code = process.returncode
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)     # the grader and everything it started
            output, _ = process.communicate()
            code = None
        document = json.loads(results.read_text(encoding="utf-8")) if results.is_file() else None
    problem = grading_failure([exercise.id], document, code, seconds, log="its output below")
    if problem:
        raise KitGradingError(f"{problem}:\n{output[-2000:]}")
    return document


def task_outputs(score):
    """A task cell's outputs: the feedback, then its points as nbgrader reads them."""
    outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": score.markdown,
                                                             "text/plain": score.summary})]
    if score.points > 0:
        outputs.append(nbformat.v4.new_output("execute_result", data={"text/plain": f"{score.points:g}"},
                                              execution_count=None))
    else:
        outputs.append(nbformat.v4.new_output("error", ename="NoPoints", evalue=score.summary,
                                              traceback=[score.summary]))
    return outputs


class KitScores(NbGraderPreprocessor):
    """Score the kit's task cells of a submitted notebook from the kit's grading of its module."""

    course_file = Unicode(str(paths.COURSE_FILE), help="the course file whose exercises and tasks are graded").tag(
        config=True)

    def preprocess(self, nb, resources):
        for cell in nb.cells:
            if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade"):
                cell.outputs = []      # nothing handed in scores: only what the kit writes below
        course = load_course(self.course_file)
        assignment = resources["nbgrader"]["assignment"]
        if assignment not in course.ids or resources["nbgrader"]["notebook"] != assignment:
            return nb, resources
        exercise = course.exercise(assignment)
        results = grade_folder(resources["metadata"]["path"], exercise, self.course_file)
        warning = results.get("extra_data", {}).get("sandbox", {}).get("warning")
        if warning:
            self.log.warning("%s/%s was graded with a weakened sandbox: %s", resources["nbgrader"]["student"],
                             assignment, warning)
        scores = task_scores(results, exercise)
        for cell in nb.cells:
            task = task_of(cell.metadata.get("nbgrader", {}).get("grade_id", ""))
            if task in scores:
                cell.source = visible_source(cell.source)     # the feedback shows what the student saw
                cell.outputs = task_outputs(scores[task])
        return nb, resources


def configure_autograde(c, course_file=paths.COURSE_FILE):
    """nbgrader_config.py's autograde settings: keep each student's own module (nbgrader would copy
    the released stub over it), keep the notebook's handed-in outputs and never run it, and score
    the task cells with KitScores before nbgrader saves the grades and applies late penalties."""
    from nbconvert.preprocessors import ClearMetadataPreprocessor
    from nbgrader.preprocessors import (
        AssignLatePenalties,
        CheckCellMetadata,
        DeduplicateIds,
        IgnorePattern,
        LimitOutput,
        OverwriteCells,
        OverwriteKernelspec,
        SaveAutoGrades,
    )

    course = load_course(course_file)
    c.Autograde.exclude_overwriting = {exercise.id: [exercise.module_file] for exercise in course.exercises}
    c.Autograde.sanitize_preprocessors = [DeduplicateIds, OverwriteKernelspec, OverwriteCells, CheckCellMetadata]
    c.Autograde.autograde_preprocessors = [KitScores, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
                                           SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    c.KitScores.course_file = str(course_file)
