"""Which exercises a student handed in after course.yml's `due`, from nbgrader's timestamps.

`nbgrader submit` writes the hand-in time into each submission (`timestamp.txt`, e.g.
"2027-01-20 10:00:00.000000 UTC") and `nbgrader collect` keeps it in submitted/<student>/<id>/.
A folder without one (a plain layout) is never counted late: its time is not known.
"""

import datetime
from pathlib import Path


def submitted_at(exercise_folder):
    """The hand-in time in `exercise_folder`/timestamp.txt (timezone-aware, UTC if none is given), or None."""
    try:
        text = (Path(exercise_folder) / "timestamp.txt").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    from nbgrader.utils import parse_utc  # nbgrader's own reading: any zone it writes, in UTC

    try:
        moment = parse_utc(text)
    except (ValueError, OverflowError):
        return None
    return moment.replace(tzinfo=datetime.timezone.utc)


def _duration(delta):
    minutes = -(-int(delta.total_seconds()) // 60)       # rounded up: a second late is late
    hours = minutes // 60
    if hours >= 24:
        return f"{hours // 24} d {hours % 24} h"
    return f"{hours} h {minutes % 60} min"


def late_text(student_folder, course):
    """"dropout 2 d 3 h; augmentation 0 h 5 min" for each exercise handed in after its due date; "" if none."""
    late = []
    for exercise in course.exercises:
        moment = submitted_at(Path(student_folder) / exercise.id)
        if moment is not None and moment > exercise.due:
            late.append(f"{exercise.id} {_duration(moment - exercise.due)}")
    return "; ".join(late)
