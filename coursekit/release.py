"""Release an exercise to students through nbgrader, and prove no solution code went with it.

Pipeline, in order (each step needs the one before):
1. stage:    build/nbgrader/source/<id>/ gets everything in solutions/<id>/, with the solution
             module replaced by its generated stub (the notebook keeps its solution cells:
             nbgrader removes those), plus what a student needs to start (coursekit/student_kit.py:
             requirements.txt, conftest.py, a "Getting started" paragraph in the notebook's first cell),
             and one autograded cell per task at the notebook's end (coursekit/gradebook/task_cells.py),
             which the kit scores in nbgrader's gradebook.
2. generate: the real `nbgrader generate_assignment` turns the staged folder into the release
             (solutions and outputs cleared, read-only cells locked, checksums recorded).
3. scan:     every released file is searched for solution markers and solution lines.
The release folder is assignments/ (see nbgrader_config.py), which is committed: students fork it
and `pytest autograder` grades it by default.
"""

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from coursekit import paths, student_kit
from coursekit.config import load_course
from coursekit.gradebook.task_cells import add_task_cells
from coursekit.stubs import find_leaks, find_regions, fingerprints_of, make_stub, solution_fingerprints

BUILD = paths.REPO_ROOT / "build" / "nbgrader"
SKIPPED_NAMES = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache"}


class ReleaseError(RuntimeError):
    """The release could not be built, or it would leak solution code."""


def stage_source(exercise, staging_root, solutions=paths.SOLUTIONS):
    """Copy solutions/<id>/ to staging_root/<id>/ with the solution module replaced by its stub."""
    solution_dir = Path(solutions) / exercise.id
    if not (solution_dir / exercise.module_file).is_file():
        raise ReleaseError(f"no reference solution at {solution_dir / exercise.module_file}")
    target = Path(staging_root) / exercise.id
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for path in sorted(solution_dir.iterdir()):
        if path.name in SKIPPED_NAMES or not path.is_file():
            continue
        if path.name == exercise.module_file:
            stub = make_stub(path.read_text(encoding="utf-8"), exercise.id, filename=str(path))
            (target / path.name).write_text(stub, encoding="utf-8")
        elif path.suffix == ".ipynb":
            notebook = add_task_cells(student_kit.add_getting_started(check_notebook(path), exercise), exercise)
            nbformat.write(notebook, target / path.name)
        else:
            shutil.copyfile(path, target / path.name)
    (target / "requirements.txt").write_text(student_kit.requirements_text(), encoding="utf-8")
    (target / "conftest.py").write_text(student_kit.conftest_text(exercise), encoding="utf-8")
    return target


def check_notebook(path):
    """The notebook at path; refuse one that is not valid nbformat JSON, naming the file and the problem."""
    try:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        return notebook
    except Exception as error:  # NotJSONError, ValidationError, UnicodeDecodeError...
        message = str(error).splitlines()[0][:300]
        raise ReleaseError(f"{path}: not a valid notebook ({type(error).__name__}: {message})") from None


def nbgrader_environment():
    """The environment for an nbgrader command: it runs its database migrations with the `alembic`
    script installed beside this Python, so that folder comes first on PATH."""
    return {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}


def generate_with_nbgrader(exercise_id, source_root, release_root, database):
    """Run `nbgrader generate_assignment` on source_root/<id>, writing release_root/<id>."""
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", exercise_id, "--force",
               f"--CourseDirectory.root={paths.REPO_ROOT}",
               f"--CourseDirectory.source_directory={Path(source_root).resolve()}",
               f"--CourseDirectory.release_directory={Path(release_root).resolve()}",
               f"--CourseDirectory.db_url=sqlite:///{Path(database).resolve()}",
               "--log-level=WARN"]
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(command, cwd=paths.REPO_ROOT, capture_output=True, text=True,
                            env=nbgrader_environment())
    if result.returncode != 0:
        raise ReleaseError(f"nbgrader generate_assignment {exercise_id} failed:\n{result.stdout}{result.stderr}")
    return Path(release_root) / exercise_id


def record_due_date(exercise, db_url, course_id):
    """Give the exercise's nbgrader assignment course.yml's due date, so that nbgrader flags late
    submissions (the gradebook's `duedate`: naive, in UTC, as nbgrader stores it)."""
    from nbgrader.api import Gradebook

    due = exercise.due.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    with Gradebook(db_url, course_id=course_id) as gradebook:
        gradebook.update_or_create_assignment(exercise.id, duedate=due)


def notebook_solution_fingerprints(notebook_path):
    """Lines of a source notebook's solution cells that must not appear in its release."""
    notebook = json.loads(Path(notebook_path).read_text(encoding="utf-8"))
    fingerprints = set()
    for cell in notebook.get("cells", []):
        if not cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            continue
        source = "".join(cell.get("source", []))
        if cell["cell_type"] == "code":
            for region in find_regions(source):
                fingerprints |= fingerprints_of(region.body)
        else:
            fingerprints |= fingerprints_of(source.splitlines())
    return fingerprints


def exercise_fingerprints(exercise, solutions=paths.SOLUTIONS):
    solution_dir = Path(solutions) / exercise.id
    fingerprints = solution_fingerprints((solution_dir / exercise.module_file).read_text(encoding="utf-8"))
    for notebook in sorted(solution_dir.glob("*.ipynb")):
        fingerprints |= notebook_solution_fingerprints(notebook)
    return fingerprints


def scan_for_leaks(folder, fingerprints):
    """Every leak in every file under folder, as 'file: line N: ...' strings."""
    leaks = []
    for path in sorted(Path(folder).rglob("*")):
        if not path.is_file() or SKIPPED_NAMES & set(path.parts):
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        if path.suffix == ".ipynb":
            try:
                cells = json.loads(text).get("cells", [])
                text = "\n".join(line for cell in cells for line in "".join(cell.get("source", [])).splitlines())
            except (ValueError, AttributeError, TypeError):
                pass   # not a readable notebook: scan its raw text
        leaks += [f"{path.relative_to(folder)}: {leak}" for leak in find_leaks(text, fingerprints)]
    return leaks


def release(exercise, release_root=paths.ASSIGNMENTS, build=BUILD, solutions=paths.SOLUTIONS, course_id=None):
    """Stage, generate and scan one exercise, then put it in release_root/<id>; record its due date in
    the gradebook of nbgrader's course `course_id` (default: course.yml's).

    The release is built and scanned under `build` first: when any step fails, the folder
    already in release_root is left exactly as it was.
    """
    build = Path(build)
    stage_source(exercise, build / "source", solutions)
    candidate = generate_with_nbgrader(exercise.id, build / "source", build / "release", build / "gradebook.db")
    record_due_date(exercise, f"sqlite:///{(build / 'gradebook.db').resolve()}",
                    course_id or load_course(paths.COURSE_FILE).id)
    leaks = scan_for_leaks(candidate, exercise_fingerprints(exercise, solutions))
    if leaks:
        shutil.rmtree(candidate, ignore_errors=True)
        raise ReleaseError(f"the release of {exercise.id} would leak solution code, so it was not written:\n  "
                           + "\n  ".join(leaks))
    target = Path(release_root) / exercise.id
    incoming, outgoing = target.with_name(f".{exercise.id}.incoming"), target.with_name(f".{exercise.id}.outgoing")
    for leftover in (incoming, outgoing):
        shutil.rmtree(leftover, ignore_errors=True)
    shutil.copytree(candidate, incoming)          # the slow part, done beside the old release
    if target.exists():
        target.rename(outgoing)
    incoming.rename(target)
    shutil.rmtree(outgoing, ignore_errors=True)
    return target
