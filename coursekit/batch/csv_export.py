"""The class CSV: one row per student with each exercise's score, the total, the status, and what was late."""

import csv
import io

from coursekit.atomic_write import write_atomically


def _number(value):
    return "" if value is None else f"{value:g}"


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
    """Write the class CSV atomically (a reader sees the old file or the new one)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["student", *course.ids, "total", "status", "late"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(class_rows(course, graded, late))
    write_atomically(path, buffer.getvalue())
