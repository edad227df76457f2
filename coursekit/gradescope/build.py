"""Build Gradescope's autograder.zip: `python -m coursekit gradescope [ID ...] --out DIR`.

One Gradescope assignment per exercise (DIR/<id>/autograder.zip), or with --one-assignment one for
all the exercises named (DIR/all/autograder.zip). The zip's root, as Gradescope unpacks it into
/autograder/source:

    setup.sh, run_autograder     scripts.py
    autograder/                  conftest.py, test_<id>.py and scenarios/<id>.py of its exercises,
                                 and every other non-test module beside them (helpers such as an oracle)
    coursekit/                   the harness, without __pycache__
    course.yml, pyproject.toml   as in the repository
    requirements.txt             requirements.py: the dependencies, pinned to this environment

Pipeline, in order: check the limits (limits.py; nothing is written when they fail), collect the
files, write the zip beside its target, unpack it and prove it holds no reference solution
(leaks.py), then move it into place: a zip that fails the check is never left in DIR.
"""

import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from coursekit import paths
from coursekit.gradescope import scripts
from coursekit.gradescope.leaks import solution_leaks
from coursekit.gradescope.requirements import requirements_text
from coursekit.release import SKIPPED_NAMES

EXECUTABLE, READABLE = 0o755, 0o644


class BuildError(RuntimeError):
    """The upload could not be built, or it would hold a reference solution."""


@dataclass(frozen=True)
class Upload:
    name: str               # the exercise id, or "all"
    exercises: tuple        # config.Exercise, in course order
    zip_path: Path


def _tree(folder, prefix):
    """(name in the zip, path) for every file under folder, skipping caches and compiled files."""
    for path in sorted(Path(folder).rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not SKIPPED_NAMES & set(relative.parts) and path.suffix != ".pyc":
            yield f"{prefix}/{relative.as_posix()}", path


def upload_members(exercises, repo=paths.REPO_ROOT):
    """(name in the zip, bytes or path, mode) for every file of the upload of `exercises`."""
    repo = Path(repo)
    graders = repo / "autograder"
    members = [("setup.sh", scripts.SETUP_SH.encode(), EXECUTABLE),
               ("run_autograder", scripts.RUN_AUTOGRADER.encode(), EXECUTABLE),
               ("requirements.txt", requirements_text().encode(), READABLE),
               ("course.yml", repo / "course.yml", READABLE),
               ("pyproject.toml", repo / "pyproject.toml", READABLE)]
    helpers = [path for path in sorted(graders.glob("*.py")) if not path.name.startswith("test_")]  # conftest too
    members += [(f"autograder/{path.name}", path, READABLE) for path in helpers]
    for exercise in exercises:
        for path in (graders / f"test_{exercise.id}.py", graders / "scenarios" / f"{exercise.id}.py"):
            if not path.is_file():
                raise BuildError(f"{exercise.id}: its grader {path.relative_to(repo)} is missing")
            members.append((path.relative_to(repo).as_posix(), path, READABLE))
    members += [(name, path, READABLE) for name, path in _tree(repo / "coursekit", "coursekit")]
    return members


def write_zip(members, target):
    """Write the members into the zip at target, with Unix modes (setup.sh and run_autograder executable)."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        for name, content, mode in members:
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zipped.writestr(info, content if isinstance(content, bytes) else Path(content).read_bytes())


def build_upload(course, name, exercises, out, solutions=paths.SOLUTIONS, repo=paths.REPO_ROOT):
    """Build, check and place out/<name>/autograder.zip for `exercises`; returns its Upload."""
    target = Path(out) / name / "autograder.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    members = upload_members(exercises, repo)
    with tempfile.TemporaryDirectory(dir=target.parent) as work:
        candidate = Path(work) / "autograder.zip"
        write_zip(members, candidate)
        unpacked = Path(work) / "unpacked"
        with zipfile.ZipFile(candidate) as zipped:
            zipped.extractall(unpacked)
        leaks = solution_leaks(unpacked, course, solutions)
        if leaks:
            raise BuildError(f"the autograder.zip of {name} would hold reference solutions, so it was not written:"
                             "\n  " + "\n  ".join(leaks))
        os.replace(candidate, target)
    return Upload(name, tuple(exercises), target)


def build_uploads(course, exercise_ids, out, one_assignment=False, solutions=paths.SOLUTIONS):
    """Every upload for the named exercises (all of the course's when none is named)."""
    exercises = [course.exercise(exercise_id) for exercise_id in exercise_ids or course.ids]
    groups = [("all", exercises)] if one_assignment else [(exercise.id, [exercise]) for exercise in exercises]
    return [build_upload(course, name, group, out, solutions) for name, group in groups]
