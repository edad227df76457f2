"""Where a submission keeps each exercise's file: `<root>/<id>/<id>.py` or `<root>/<id>.py`."""

from pathlib import Path


def find_module_file(root, exercise):
    """The exercise's graded file in the submission folder `root`, or None when there is none."""
    root = Path(root)
    for candidate in (root / exercise.id / exercise.module_file, root / exercise.module_file):
        if candidate.is_file():
            return candidate
    return None


def missing_file_message(root, exercise):
    return (f"{exercise.module_file} was not found in the submission: expected "
            f"{exercise.id}/{exercise.module_file} or {exercise.module_file} in {Path(root).name or root}/")
