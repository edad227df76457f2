"""Proof that an upload holds no reference solution, with the release's scan (release.scan_for_leaks).

The graders cannot pass the release's own test ("no line of solution code at all"): to check a
student's work they hold known-good code of their own (scenarios/<id>.py drives tests with a
correct `train_model`, the early-stopping oracle trains as the solution does), and a few harness
lines match solution lines by chance. A module's "solution lines" are the lines the scan flags in
the reference module itself; measured on this course, a scenario matches at most about half of its
exercise's (dropout: 32 of 62), other grader and harness files a handful; a copied solution matches
all of them. (Its solution markers are no test here: coursekit/stubs.py documents them.) So a file
of the upload leaks when:
- it is byte-for-byte a file of solutions/ (a module, a notebook, its sanity test), or
- the release scan flags more lines in it than MAX_SHARE of one exercise's solution lines.
"""

from collections import Counter
from pathlib import Path

from coursekit import paths
from coursekit.release import SKIPPED_NAMES, exercise_fingerprints, scan_for_leaks
from coursekit.stubs import find_leaks

MAX_SHARE = 0.8


def solution_leaks(folder, course, solutions=paths.SOLUTIONS):
    """Every file under `folder` that would leak a reference solution, as 'file: why' strings."""
    folder, solutions = Path(folder), Path(solutions)
    files = [path for path in sorted(folder.rglob("*")) if path.is_file() and not SKIPPED_NAMES & set(path.parts)]
    solution_files = {path.read_bytes(): path for path in solutions.rglob("*")
                      if path.is_file() and not SKIPPED_NAMES & set(path.parts)}
    leaks = []
    for path in files:
        shown = path.relative_to(folder).as_posix()
        data = path.read_bytes()
        if data in solution_files:
            leaks.append(f"{shown}: a copy of {solution_files[data].relative_to(solutions).as_posix()}")
    for exercise in course.exercises:
        fingerprints = exercise_fingerprints(exercise, solutions)
        module = (solutions / exercise.id / exercise.module_file).read_text(encoding="utf-8")
        solution_lines = sum(not leak.endswith("a solution marker") for leak in find_leaks(module, fingerprints))
        hits = Counter(leak.split(": ", 1)[0] for leak in scan_for_leaks(folder, fingerprints)
                       if not leak.endswith("a solution marker"))
        for shown, count in sorted(hits.items()):
            if count > MAX_SHARE * solution_lines:
                leaks.append(f"{Path(shown).as_posix()}: {count} of the {solution_lines} solution lines of "
                             f"{exercise.id}")
    return leaks
