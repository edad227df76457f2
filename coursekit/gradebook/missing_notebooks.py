"""A submission with the module but no notebook: give it the released notebook, so nbgrader grades it.

`nbgrader autograde` only visits submissions that hold a notebook, so a student who handed in
`<id>.py` alone would get nothing, not even the kit's points for the module. After
`nbgrader collect ID`, `python -m coursekit nbgrader-prepare ID` copies the released notebook
into each such folder, with a first cell that says so: nbgrader then runs it with the student's
module and the kit scores its tasks; its written answers are unanswered (0). The folder's other
files, its timestamp among them, are left as they are.
"""

from pathlib import Path

import nbformat

ADDED_CELL_ID = "kit-added-notebook"


def added_notice(exercise):
    return (f"**You handed in `{exercise.module_file}` without this notebook.** The course kit added the "
            "released notebook so that your module could be graded: its tasks below are scored from "
            f"`{exercise.module_file}`, and its written answers are unanswered.")


def add_missing_notebooks(course_dir, exercise, release_dir, submitted="submitted"):
    """Copy release_dir/<id>/<id>.ipynb, marked, into every <course_dir>/<submitted>/<student>/<id>/
    that holds the module but no notebook; returns the students given one, sorted."""
    released = Path(release_dir) / exercise.id / f"{exercise.id}.ipynb"
    notebook = nbformat.read(released, as_version=4)
    notice = nbformat.v4.new_markdown_cell(added_notice(exercise))
    notice.id = ADDED_CELL_ID
    notebook.cells.insert(0, notice)
    given = []
    for folder in sorted((Path(course_dir) / submitted).glob(f"*/{exercise.id}")):
        if (folder / exercise.module_file).is_file() and not (folder / f"{exercise.id}.ipynb").exists():
            nbformat.write(notebook, folder / f"{exercise.id}.ipynb")
            given.append(folder.parent.name)
    return given
