"""Late hand-ins, from nbgrader's timestamp.txt against course.yml's due dates (coursekit/batch/lateness.py)."""

from coursekit import paths
from coursekit.batch.csv_export import class_rows
from coursekit.batch.lateness import late_text, submitted_at
from coursekit.config import load_course

COURSE = load_course(paths.COURSE_FILE)


def hand_in(student_folder, exercise_id, timestamp):
    folder = student_folder / exercise_id
    folder.mkdir(parents=True)
    (folder / "timestamp.txt").write_text(timestamp)


def test_nbgraders_timestamp_is_read_as_utc(tmp_path):
    hand_in(tmp_path, "dropout", "2027-02-05 10:00:00.000000 UTC")
    assert submitted_at(tmp_path / "dropout").isoformat() == "2027-02-05T10:00:00+00:00"
    assert submitted_at(tmp_path / "batchnorm") is None                 # no timestamp: time unknown


def test_only_exercises_handed_in_after_their_due_date_are_late(tmp_path):
    due = {exercise.id: exercise.due for exercise in COURSE.exercises}
    assert due["batchnorm"].isoformat() == "2027-01-29T23:59:00+00:00"
    hand_in(tmp_path, "batchnorm", "2027-01-31 02:59:00.000000 UTC")      # 1 day 3 hours after
    hand_in(tmp_path, "dropout", "2027-02-05 23:58:00.000000 UTC")        # a minute early
    hand_in(tmp_path, "weight_decay", "2027-02-12 23:59:00 UTC")          # exactly on time is on time
    assert late_text(tmp_path, COURSE) == "batchnorm 1 d 3 h"


def test_the_class_csv_has_a_late_column():
    rows = class_rows(COURSE, {"a": (None, "graded"), "b": (None, "graded")}, {"a": "dropout 0 h 5 min"})
    assert [(row["student"], row["late"]) for row in rows] == [("a", "dropout 0 h 5 min"), ("b", "")]


def test_a_timestamp_in_another_zone_counts_in_utc_and_seconds_late_are_late(tmp_path):
    hand_in(tmp_path, "batchnorm", "2027-01-30 00:59:30.000000 CET")      # 23:59:30 UTC: 30 s after the due time
    assert late_text(tmp_path, COURSE) == "batchnorm 0 h 1 min"
