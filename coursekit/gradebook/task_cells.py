"""The notebook's autograded cells: one per task of course.yml, which the kit scores in nbgrader's gradebook.

The release (coursekit/release.py) appends them to each exercise's notebook, so nbgrader's
gradebook has one autograded grade per task, out of course.yml's points, beside the written
answer graded by hand. A student sees a locked cell that says what grades the task. Its hidden
part (nbgrader strips it from the release) fails, so that a task cell scores 0, never full marks,
if nbgrader ever ran it: with the course's configuration nbgrader runs no notebook, and
`nbgrader autograde`'s KitScores step (kit_scores.py) gives each task cell its points and feedback
from the kit's grading of the student's module.
"""

import nbformat

GRADE_ID_PREFIX = "kit_"
NOT_SCORED = "scored by the course kit's step of nbgrader autograde (nbgrader_config.py), not by running this cell"


def grade_id(task):
    """The nbgrader grade id of a task's cell: kit_<task>."""
    return f"{GRADE_ID_PREFIX}{task}"


def task_of(grade_id_):
    """The task a kit cell's grade id names, or None for any other cell."""
    return grade_id_[len(GRADE_ID_PREFIX):] if grade_id_.startswith(GRADE_ID_PREFIX) else None


def _cell_source(exercise, task, task_points):
    return (f"# Autograded: `{task}` in {exercise.module_file}, {task_points} points.\n"
            f"# The course's hidden tests grade {exercise.module_file} when your work is collected; their\n"
            "# feedback for this task appears here then. Check your work now with this notebook's checks\n"
            "# and the public sanity tests (python -m pytest).\n"
            "### BEGIN HIDDEN TESTS\n"
            f"raise RuntimeError({NOT_SCORED!r})\n"
            "### END HIDDEN TESTS\n")


def visible_source(source):
    """A task cell's source without its hidden part (as released)."""
    return source.split("### BEGIN HIDDEN TESTS", 1)[0].rstrip("\n")


def add_task_cells(notebook, exercise):
    """Append a heading and one locked, autograded nbgrader cell per task (in course.yml's order)."""
    heading = nbformat.v4.new_markdown_cell(
        "## Autograded tasks\n\n"
        f"The course's hidden tests grade `{exercise.module_file}` when your work is collected: each task "
        "below gets its points and feedback then. Nothing to do here.")
    heading.id = f"{GRADE_ID_PREFIX}heading"        # fixed ids: the same release every time
    heading.metadata["nbgrader"] = {"grade": False, "grade_id": f"{GRADE_ID_PREFIX}heading", "locked": True,
                                    "schema_version": 3, "solution": False, "task": False}
    notebook.cells.append(heading)
    for task, task_points in exercise.tasks.items():
        cell = nbformat.v4.new_code_cell(_cell_source(exercise, task, task_points))
        cell.id = grade_id(task)
        cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id(task), "locked": True,
                                     "points": task_points, "schema_version": 3, "solution": False,
                                     "task": False}
        notebook.cells.append(cell)
    return notebook
