"""Where a class's submissions are: one folder per student, in nbgrader's layout or a plain one.

    <root>/submitted/<student>/<assignment>/...   nbgrader's exchange layout (root: the course folder)
    <root>/<student>/<id>/<id>.py  or  <root>/<student>/<id>.py   a folder per student

Within a student's folder, each exercise's file is found as for a single submission
(coursekit/grading/submission.py); nbgrader's `<student>/<id>/<id>.py` is the first form.
"""

from dataclasses import dataclass
from pathlib import Path


class LayoutError(ValueError):
    """The folder holds no student folders."""


@dataclass(frozen=True)
class StudentSubmission:
    student: str      # the folder's name: nbgrader's student id
    folder: Path


def find_submissions(root, exclude=()):
    """Every student folder under `root`, sorted by student; `exclude` lists folders to leave out."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root}: no such folder")
    base = root / "submitted" if (root / "submitted").is_dir() else root
    excluded = {Path(path).resolve() for path in exclude}
    found = [StudentSubmission(entry.name, entry) for entry in sorted(base.iterdir())
             if entry.is_dir() and not entry.name.startswith((".", "_")) and entry.resolve() not in excluded]
    if not found:
        raise LayoutError(f"{base}: no student folders (expected {base}/<student>/ holding <id>/<id>.py "
                          "or <id>.py, or nbgrader's submitted/<student>/<id>/)")
    return found
