"""A student's Gradescope upload, laid out as the grader expects: `<out>/<id>/<id>.py` per exercise.

Students upload the bare files (`batchnorm.py`, maybe `batchnorm.ipynb`), a folder holding them, or
a .zip of either. For every exercise whose grader the upload holds, `<id>.py` is looked for anywhere in the upload
and in its zips (unpacked safely: no absolute or `..` paths, no links, at most MAX_UNZIPPED_BYTES
and MAX_MEMBERS, zips inside zips not opened). Found once, it is copied (with `<id>.ipynb` from the
same folder, if any) to `<out>/<id>/`. Found several times with different contents, the copy
nearest the upload's root is graded (the first in path order among equals) and a note says which.
Not found: nothing is copied, so the grader reports the exercise's file as missing (one test
entry worth all its points), and a note lists the Python files the upload does hold, naming a
likely misnamed one.

The notes are written to a text file that finish.py adds to results.json's `output`, which
Gradescope shows the student above the tests. Nothing here raises on a bad upload: it becomes a note.

    python -m coursekit.gradescope.submission_layout SUBMISSION OUT --notes NOTES
"""

import argparse
import shutil
import stat
import sys
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from coursekit import paths
from coursekit.config import CourseConfigError, load_course

MAX_UNZIPPED_BYTES = 64 << 20        # far above any exercise's files; a zip bomb stops here
MAX_MEMBERS = 2000
IGNORED_PARTS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git"}


def _safe_member_path(name):
    """The member's relative path, or None for an absolute path, `..`, or a name of odd parts."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or not path.parts or any(part in ("..", "") or ":" in part for part in path.parts):
        return None
    return Path(*path.parts)


def unzip_safely(archive, target, notes):
    """Unpack the regular files of `archive` under `target`; problems become notes."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = zipped.infolist()
            if len(members) > MAX_MEMBERS:
                notes.append(f"{archive.name}: more than {MAX_MEMBERS} files, not unpacked")
                return
            budget = MAX_UNZIPPED_BYTES
            for member in members:
                relative = _safe_member_path(member.filename)
                is_link = stat.S_ISLNK(member.external_attr >> 16)
                if member.is_dir() or is_link:
                    continue
                if relative is None:
                    notes.append(f"{archive.name}: {member.filename!r} skipped (a path outside the zip)")
                    continue
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as source, open(destination, "wb") as sink:
                    while chunk := source.read(1 << 16):
                        budget -= len(chunk)
                        if budget < 0:
                            notes.append(f"{archive.name}: more than {MAX_UNZIPPED_BYTES >> 20} MiB unpacked, "
                                         "the rest skipped: upload only the exercise's files")
                            return
                        sink.write(chunk)
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as error:
        notes.append(f"{archive.name}: could not be unpacked ({error})")


def uploaded_files(submission, unpacked, notes):
    """(shown path, real path) for every regular file of the upload and of its zips, links skipped."""
    found, root = [], Path(submission)
    for number, path in enumerate(sorted(root.rglob("*"))):
        if IGNORED_PARTS & set(path.relative_to(root).parts) or path.is_symlink() or not path.is_file():
            continue
        shown = path.relative_to(root).as_posix()
        if path.suffix.lower() != ".zip":
            found.append((shown, path))
            continue
        folder = Path(unpacked) / f"zip{number}"
        unzip_safely(path, folder, notes)
        for inner in sorted(folder.rglob("*")):
            if inner.is_file() and not inner.is_symlink() and not IGNORED_PARTS & set(inner.relative_to(folder).parts):
                found.append((f"{shown}:{inner.relative_to(folder).as_posix()}", inner))
    return found


def _depth(shown):
    return shown.replace(":", "/").count("/")


def place_exercise(exercise, files, out, notes):
    """Copy the exercise's file (and its notebook) to out/<id>/; notes say what was chosen or missing."""
    module = exercise.module_file
    matches = sorted((entry for entry in files if Path(entry[0].split(":")[-1]).name == module),
                     key=lambda entry: (_depth(entry[0]), entry[0]))
    if not matches:
        python_files = [shown for shown, _ in files if shown.lower().endswith((".py", ".ipynb"))]
        near = [shown for shown in python_files if exercise.id.lower() in Path(shown.split(":")[-1]).name.lower()]
        hint = f" Did you mean {near[0]}? Rename it to {module}." if near else ""
        held = ", ".join(python_files[:10]) if python_files else "no Python file"
        notes.append(f"{exercise.id}: no file named {module} in your submission (it holds {held}).{hint}")
        return
    shown, chosen = matches[0]
    if len({path.read_bytes() for _, path in matches}) > 1:
        notes.append(f"{exercise.id}: your submission has {len(matches)} different files named {module} "
                     f"({', '.join(entry[0] for entry in matches)}): {shown} was graded. Keep only one.")
    target = Path(out) / exercise.id
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(chosen, target / module)
    notebook = chosen.with_suffix(".ipynb")
    if notebook.is_file():
        shutil.copyfile(notebook, target / notebook.name)


def graded_exercises(course, autograder=paths.AUTOGRADER):
    """The exercises of `course` whose graders (autograder/test_<id>.py) this upload holds."""
    return [exercise for exercise in course.exercises if (Path(autograder) / f"test_{exercise.id}.py").is_file()]


def lay_out(submission, out, exercises):
    """Lay the upload in `submission` out in `out` for each of `exercises`; returns the notes."""
    notes = []
    Path(out).mkdir(parents=True, exist_ok=True)
    if not Path(submission).is_dir():
        return [f"no submission folder at {submission}"]
    with tempfile.TemporaryDirectory() as unpacked:
        files = uploaded_files(submission, unpacked, notes)
        if not files:
            notes.append("Your submission holds no files: upload your exercise's .py file "
                         f"({', '.join(e.module_file for e in exercises)}).")
            return notes
        for exercise in exercises:
            place_exercise(exercise, files, out, notes)
    return notes


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursekit.gradescope.submission_layout",
                                     description="Lay a Gradescope upload out as <out>/<id>/<id>.py.")
    parser.add_argument("submission")
    parser.add_argument("out")
    parser.add_argument("--notes", required=True, help="where the notes for the student go")
    parser.add_argument("--course", default=str(paths.COURSE_FILE))
    args = parser.parse_args(argv)
    try:
        notes = lay_out(args.submission, args.out, graded_exercises(load_course(args.course)))
    except CourseConfigError as error:
        notes = [f"the autograder's course file is broken: {error}"]
    Path(args.notes).write_text("".join(f"{note}\n" for note in notes), encoding="utf-8")
    for note in notes:
        print(f"submission: {note}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
