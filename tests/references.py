"""Import a reference solution (solutions/<id>/<id>.py) into the test process, to check it directly."""

import importlib.util

from coursekit import paths


def load_reference(exercise_id):
    path = paths.SOLUTIONS / exercise_id / f"{exercise_id}.py"
    spec = importlib.util.spec_from_file_location(f"reference_{exercise_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_grader(exercise_id):
    """The grader module autograder/test_<id>.py, for the constants it grades with."""
    path = paths.AUTOGRADER / f"test_{exercise_id}.py"
    spec = importlib.util.spec_from_file_location(f"grader_{exercise_id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
