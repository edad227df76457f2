"""Where a class's submissions are: one folder per student, in nbgrader's layout or a plain one.

    <root>/submitted/<student>/<assignment>/...   nbgrader's exchange layout (root: the course folder)
    <root>/<student>/<id>/<id>.py  or  <root>/<student>/<id>.py   a folder per student

Within a student's folder, each exercise's file is found as for a single submission
(coursekit/grading/submission.py); nbgrader's `<student>/<id>/<id>.py` is the first form.

One student's own folder (`submitted/ada/`, whose folders are `batchnorm/`, `dropout/`, ...) would
read as a class of students named after the exercises: a folder whose every folder is named after
an exercise of the course is refused as such, rather than graded as students who handed in nothing.
"""

from dataclasses import dataclass
from pathlib import Path

GRADE_ONE = "python -m pytest autograder --submission"      # how README grades a single submission


class LayoutError(ValueError):
    """The folder holds no student folders: it is missing, a file, empty, or one student's submission."""


@dataclass(frozen=True)
class StudentSubmission:
    student: str      # the folder's name: nbgrader's student id
    folder: Path


def find_submissions(root, exclude=(), exercise_ids=()):
    """Every student folder under `root`, sorted by student; `exclude` lists folders to leave out.

    `exercise_ids`: the course's exercises; when every folder found is named after one of them,
    `root` is one student's submission, not a class (LayoutError). Raises LayoutError as well for a
    `root` that is missing, a file, or holds no folders.
    """
    root = Path(root)
    if root.is_file():
        raise LayoutError(f"{root} is a file, not a folder: grade-class grades a folder of student folders "
                          f"(to grade one submission: {GRADE_ONE} FOLDER)")
    if not root.is_dir():
        raise LayoutError(f"{root}: no such folder")
    base = root / "submitted" if (root / "submitted").is_dir() else root
    excluded = {Path(path).resolve() for path in exclude}
    found = [StudentSubmission(entry.name, entry) for entry in sorted(base.iterdir())
             if entry.is_dir() and not entry.name.startswith((".", "_")) and entry.resolve() not in excluded]
    if not found:
        raise LayoutError(f"{base}: no student folders (expected {base}/<student>/ holding <id>/<id>.py "
                          "or <id>.py, or nbgrader's submitted/<student>/<id>/)")
    if exercise_ids and all(submission.student in exercise_ids for submission in found):
        names = ", ".join(submission.student for submission in found)
        raise LayoutError(f"{base} looks like one student's submission, not a class: its folders ({names}) "
                          f"are exercises of the course, not students. Point grade-class at the folder that "
                          f"holds the student folders (for nbgrader, the course folder holding submitted/), "
                          f"or grade this one submission with {GRADE_ONE} {base}")
    return found
