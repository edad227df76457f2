"""The class CSV: the points possible, then one row per student with each exercise's score, the total,
the status, and what was late.

    student,batchnorm,dropout,...,total,status,late
    (points possible),74,77,...,335,,
    ada,74,0,...,74,graded; dropout: SyntaxError line 12,dropout 2 d 3 h

The points-possible row comes first, right under the header, as in Canvas's and Moodle's exports:
each exercise's points from course.yml and their sum, status and late blank. A spreadsheet shows
it above the class; a program reading the CSV skips the row whose student is POINTS_POSSIBLE, a
name in parentheses, with a space, that no student id of nbgrader or an LMS export looks like.
"""

import csv
import io

from coursekit.atomic_write import write_atomically

POINTS_POSSIBLE = "(points possible)"


def _number(value):
    return "" if value is None else f"{value:g}"


def fieldnames(course):
    return ["student", *course.ids, "total", "status", "late"]


def points_possible_row(course):
    """The row under the header: each exercise's points in course.yml, and their sum as the total."""
    return {"student": POINTS_POSSIBLE, **{exercise.id: _number(exercise.points) for exercise in course.exercises},
            "total": _number(sum(exercise.points for exercise in course.exercises)), "status": "", "late": ""}


def class_rows(course, graded, late=None):
    """Rows for `graded`: {student: (results.json dict or None, status)}, sorted by student; `late`:
    {student: the exercises handed in after their due date, and by how long} (lateness.py)."""
    rows = []
    for student in sorted(graded):
        results, status = graded[student]
        exercises = (results or {}).get("extra_data", {}).get("exercises", {})
        scores = {exercise.id: exercises.get(exercise.id, {}).get("score") for exercise in course.exercises}
        rows.append({"student": student, **{key: _number(value) for key, value in scores.items()},
                     "total": _number(results["score"]) if results else "", "status": status,
                     "late": (late or {}).get(student, "")})
    return rows


def write_class_csv(path, course, graded, late=None):
    """Write the class CSV atomically (a reader sees the old file or the new one): the header, the
    points-possible row, then `class_rows`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames(course), lineterminator="\n")
    writer.writeheader()
    writer.writerow(points_possible_row(course))
    writer.writerows(class_rows(course, graded, late))
    write_atomically(path, buffer.getvalue())
