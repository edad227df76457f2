"""Import a reference solution or a grader module into the test process, to check it directly."""

import importlib.util
import sys

import coursekit.worker
from coursekit import paths
from coursekit.grading.zygote_client import WORKER_PACKAGE_NAME


def grader_file(exercise_id):
    """autograder/test_<id>.py, the hidden graders of one exercise."""
    return paths.AUTOGRADER / f"test_{exercise_id}.py"


def _import_file(path, module_name):
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_reference(exercise_id):
    """solutions/<id>/<id>.py, imported under the name reference_<id>."""
    return _import_file(paths.SOLUTIONS / exercise_id / f"{exercise_id}.py", f"reference_{exercise_id}")


def load_scenarios(exercise_id):
    """autograder/scenarios/<id>.py, the functions the worker runs, imported here to run in-process.

    In the worker they import the worker's package as `_kit_worker`; here that name is the kit's
    coursekit.worker.
    """
    sys.modules.setdefault(WORKER_PACKAGE_NAME, coursekit.worker)
    return _import_file(paths.AUTOGRADER / "scenarios" / f"{exercise_id}.py", f"scenarios_{exercise_id}")


def load_grader(exercise_id):
    """The grader module, for the constants it grades with.

    Its folder goes on sys.path, as `pytest autograder` puts it, for the modules beside the graders
    (autograder/early_stopping_oracle.py).
    """
    if str(paths.AUTOGRADER) not in sys.path:
        sys.path.append(str(paths.AUTOGRADER))
    return _import_file(grader_file(exercise_id), f"grader_{exercise_id}")
