"""The kit's task cells and the autograde step's pieces, on hand-made results (no grading, no nbgrader run).

The whole loop with nbgrader's real commands is tests/test_nbgrader_loop.py.
"""

import nbformat

from coursekit import paths
from coursekit.config import load_course
from coursekit.gradebook.kit_scores import task_outputs
from coursekit.gradebook.task_cells import add_task_cells, grade_id, task_of, visible_source
from coursekit.gradebook.task_scores import task_scores

EXERCISE = load_course(paths.COURSE_FILE).exercise("batchnorm")


def result(task, name, score, max_score, output=""):
    return {"name": f"batchnorm.{task}: {name}", "score": score, "max_score": max_score,
            "status": "passed" if score == max_score else "failed", "output": output,
            "tags": ["batchnorm", f"batchnorm.{task}"]}


def test_each_task_cell_carries_its_course_points_and_a_hidden_failure():
    notebook = add_task_cells(nbformat.v4.new_notebook(), EXERCISE)
    cells = [cell for cell in notebook.cells if cell.metadata["nbgrader"]["grade"]]
    assert {task_of(cell.metadata["nbgrader"]["grade_id"]): cell.metadata["nbgrader"]["points"]
            for cell in cells} == EXERCISE.tasks
    assert all(cell.metadata["nbgrader"]["locked"] and "raise RuntimeError" in cell.source for cell in cells)
    assert all("raise" not in visible_source(cell.source) for cell in cells)


def test_a_tasks_points_add_up_its_tests_and_its_feedback_names_each_lost_point():
    results = {"tests": [result("batch_norm", "Output matches *PyTorch*.", 2, 2),
                         result("batch_norm", "Uses the (N, C, *) statistics.", 0, 3, "    max error 0.5"),
                         result("BatchNorm", "Keeps running stats.", 4, 4)]}
    scores = task_scores(results, EXERCISE)
    assert (scores["batch_norm"].points, scores["batch_norm"].max_points) == (2, 28)
    assert "(N, C, \\*) statistics" in scores["batch_norm"].markdown          # escaped, so it reads as typed
    assert "max error 0.5" in scores["batch_norm"].markdown and "PyTorch" not in scores["batch_norm"].markdown
    assert scores["BatchNorm"].points == 4 and scores["MLPWithBatchNorm"].points == 0


def test_a_module_that_was_not_graded_costs_every_task_with_its_reason():
    results = {"tests": [{"name": "batchnorm", "score": 0, "max_score": 74, "status": "failed",
                          "output": "no file named batchnorm.py", "tags": ["batchnorm"]}]}
    scores = task_scores(results, EXERCISE)
    assert set(scores) == set(EXERCISE.tasks)
    assert all(score.points == 0 and "no file named batchnorm.py" in score.markdown for score in scores.values())


def test_nbgrader_reads_a_task_cells_outputs_as_the_kits_points():
    """nbgrader's own determine_grade is the oracle: partial credit from the number, 0 from the error."""
    from nbgrader.utils import determine_grade

    results = {"tests": [result("BatchNorm", "Keeps running stats.", 1.5, 4, "why"),
                         result("BatchNorm", "Has gamma.", 0, 22, "why not")]}
    for points in (1.5, 0.0):
        if points == 0.0:
            results["tests"][0]["score"] = 0
        cell = nbformat.v4.new_code_cell("# Autograded")
        cell.metadata["nbgrader"] = {"grade": True, "solution": False, "points": 26, "grade_id": grade_id("BatchNorm")}
        cell.outputs = task_outputs(task_scores(results, EXERCISE)["BatchNorm"])
        assert determine_grade(cell) == (points, 26.0)
        assert cell.outputs[0].data["text/plain"].startswith(f"{points:g} of 26 points")
