"""A generated class: each exercise of each student, by a seeded draw, the reference solution, the
untouched stub, or a catalogued mutant (tests/mutants/); every file carries the student's name, so
no two students' files are identical. Used by the grade-class benchmark and the report's demo.
"""

import random

from coursekit import paths
from coursekit.config import load_course

from catalogues import CATALOGUE_DIR, load_catalogue

MIX = {"reference": 0.4, "stub": 0.2, "mutant": 0.4}


def mutants(exercise_id):
    """Every catalogued mutant of an exercise (tests/mutants/<id>.yml), as source text."""
    catalogue = CATALOGUE_DIR / f"{exercise_id}.yml"
    if not catalogue.exists():
        return []
    return [entry.source for entry in load_catalogue(catalogue) if entry.kind == "mutant"]


def generate_class(root, students, seed=0, mix=MIX, common_mistakes=None):
    """`students` folders under root/submitted/ (nbgrader's layout); returns how many of each kind.

    `common_mistakes`: draw the mutants of each exercise from this many of its catalogued mistakes
    (chosen by the seed), as a class whose students make the same few mistakes would; default all.
    """
    draw = random.Random(seed)
    course = load_course(paths.COURSE_FILE)
    sources = {}
    for exercise in course.exercises:
        reference = (paths.SOLUTIONS / exercise.id / exercise.module_file).read_text()
        stub = (paths.ASSIGNMENTS / exercise.id / exercise.module_file).read_text()
        wrong = mutants(exercise.id)
        if common_mistakes is not None:
            wrong = draw.sample(wrong, min(common_mistakes, len(wrong)))
        sources[exercise.id] = {"reference": [reference], "stub": [stub], "mutant": wrong}
    counts = {kind: 0 for kind in mix}
    for number in range(students):
        student = f"student{number:03d}"
        for exercise in course.exercises:
            kinds = [kind for kind in mix if sources[exercise.id][kind]]
            kind = draw.choices(kinds, weights=[mix[k] for k in kinds])[0]
            counts[kind] += 1
            folder = root / "submitted" / student / exercise.id
            folder.mkdir(parents=True)
            text = f"# {student}\n" + draw.choice(sources[exercise.id][kind])
            (folder / exercise.module_file).write_text(text)
    return counts
