"""The class CSV: one row per student with each exercise's score, the total and the status."""

import csv
import io

from coursekit.atomic_write import write_atomically


def _number(value):
    return "" if value is None else f"{value:g}"


def class_rows(course, graded):
    """Rows for `graded`: {student: (results.json dict or None, status)}, sorted by student."""
    rows = []
    for student in sorted(graded):
        results, status = graded[student]
        exercises = (results or {}).get("extra_data", {}).get("exercises", {})
        scores = {exercise.id: exercises.get(exercise.id, {}).get("score") for exercise in course.exercises}
        rows.append({"student": student, **{key: _number(value) for key, value in scores.items()},
                     "total": _number(results["score"]) if results else "", "status": status})
    return rows


def write_class_csv(path, course, graded):
    """Write the class CSV atomically (a reader sees the old file or the new one)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["student", *course.ids, "total", "status"], lineterminator="\n")
    writer.writeheader()
    writer.writerows(class_rows(course, graded))
    write_atomically(path, buffer.getvalue())
