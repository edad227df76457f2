"""Where a submission keeps each exercise's file: `<root>/<id>/<id>.py` or `<root>/<id>.py`."""

from pathlib import Path


def candidate_paths(exercise):
    """Where a submission may keep the exercise's file, relative to its folder."""
    return [Path(exercise.id) / exercise.module_file, Path(exercise.module_file)]


def locate_module_file(root, exercise):
    """(path, None) for the exercise's graded file in the folder `root`, or (None, why not)."""
    root = Path(root)
    found = [root / candidate for candidate in candidate_paths(exercise) if (root / candidate).is_file()]
    shown = f"{root.name or root}/"
    if not found:
        return None, (f"{exercise.module_file} was not found in the submission: expected "
                      f"{exercise.id}/{exercise.module_file} or {exercise.module_file} in {shown}")
    if len(found) > 1:
        return None, (f"the submission has both {exercise.id}/{exercise.module_file} and "
                      f"{exercise.module_file} in {shown}: keep only the one you want graded")
    return found[0], None
