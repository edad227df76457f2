"""course.yml: the real one is valid; every kind of bad input gets an error naming the key."""

import subprocess
import sys

import pytest

from coursekit import paths
from coursekit.config import VISIBILITIES, CourseConfigError, load_course, parse_course
from coursekit.course_checks import course_problems

from grader_runs import course_with, grade

VALID = """
course: {id: demo, title: Demo}
exercises:
  - id: batchnorm
    title: Batch norm
    files: [batchnorm.py]
    tasks: {batch_norm: 3, BatchNorm1d: 2}
    points: 5
    due: 2027-01-29
"""


def test_the_course_file_is_valid_and_matches_the_solutions():
    course = load_course(paths.COURSE_FILE)
    assert "batchnorm" in course.ids
    assert course_problems(course) == []


def test_defaults_and_types():
    exercise = parse_course(VALID).exercise("batchnorm")
    assert exercise.time_limit == 10.0 and exercise.forbidden.operators == ()
    assert exercise.due.tzinfo is not None
    assert exercise.visibility == "visible"
    assert exercise.preload == ()


def test_a_due_time_without_an_offset_is_utc():
    course = parse_course(VALID.replace("    due: 2027-01-29", "    due: 2027-01-29T12:00:00"))
    assert course.exercise("batchnorm").due.isoformat() == "2027-01-29T12:00:00+00:00"


def test_preload_names_modules():
    course = parse_course(VALID.replace("    points: 5", "    points: 5\n    preload: [torchvision.transforms.v2]"))
    assert course.exercise("batchnorm").preload == ("torchvision.transforms.v2",)


@pytest.mark.parametrize("visibility", VISIBILITIES)
def test_each_of_gradescopes_visibilities_can_be_set(visibility):
    course = parse_course(VALID.replace("    points: 5", f"    points: 5\n    visibility: {visibility}"))
    assert course.exercise("batchnorm").visibility == visibility


def test_sandbox_limits_have_defaults_and_can_be_set():
    default = parse_course(VALID).sandbox
    assert default.isolation == "auto" and default.memory_mb == 4096
    assert default.cpu_seconds_for(parse_course(VALID).exercise("batchnorm")) == 120 + 60
    chosen = parse_course("sandbox: {isolation: bubblewrap, memory_mb: 1024, cpu_seconds: 30}\n" + VALID).sandbox
    assert (chosen.isolation, chosen.memory_mb, chosen.cpu_seconds, chosen.processes) == ("bubblewrap", 1024, 30, 64)


@pytest.mark.parametrize("old, new, message", [
    ("    points: 5", "    pionts: 5", "exercises[0].pionts: unknown key (did you mean 'points'?)"),
    ("    points: 5", "    points: 6", "exercises[0].points: is 6, but its tasks add up to 5"),
    ("    points: 5", "    points: five", "exercises[0].points: expected a positive integer, got 'five'"),
    ("batch_norm: 3", "batch_norm: -3", "exercises[0].tasks.batch_norm: expected a positive integer"),
    ("    due: 2027-01-29", "    due: soon", "exercises[0].due: expected a date"),
    ("    files: [batchnorm.py]", "    files: [notes.md]", "exercises[0].files: must list the graded module"),
    ("    title: Batch norm\n", "", "exercises[0].title: required key is missing"),
    ("course: {id: demo, title: Demo}", "course: {id: demo, title: Demo, term: fall}", "course.term: unknown key"),
    ("    due: 2027-01-29", "    due: 2027-01-29\n    time_limit: 0",
     "exercises[0].time_limit: expected a number of seconds"),
    ("    due: 2027-01-29", "    due: 2027-01-29\n    time_budget: .inf",
     "exercises[0].time_budget: expected a number of seconds"),
    ("tasks: {batch_norm: 3", "tasks: {batch_norm: 3,, ", "not valid YAML"),
    ("course: {id: demo, title: Demo}", "sandbox: {isolation: docker}\ncourse: {id: demo, title: Demo}",
     "sandbox.isolation: expected one of auto, bubblewrap, landlock, none, got 'docker'"),
    ("course: {id: demo, title: Demo}", "sandbox: {memory: 2048}\ncourse: {id: demo, title: Demo}",
     "sandbox.memory: unknown key (did you mean 'memory_mb'?)"),
    ("course: {id: demo, title: Demo}", "sandbox: {processes: 0}\ncourse: {id: demo, title: Demo}",
     "sandbox.processes: expected a positive integer, got 0"),
    ("    points: 5", "    points: 5\n    visibility: public",
     "exercises[0].visibility: expected one of visible, after_due_date, after_published, hidden, got 'public'"),
    ("    points: 5", "    points: 5\n    visibility: after_due",
     "exercises[0].visibility: expected one of visible, after_due_date, after_published, hidden, got 'after_due' "
     "(did you mean 'after_due_date'?)"),
    ("    points: 5", "    points: 5\n    preload: torchvision",
     "exercises[0].preload: expected a list of module names such as torchvision.transforms.v2, got 'torchvision'"),
    ("    points: 5", "    points: 5\n    preload: [torchvision transforms]",
     "exercises[0].preload: expected a list of module names"),
    ("    points: 5", "    points: 5\n    visibilty: hidden", "exercises[0].visibilty: unknown key (did you mean "
     "'visibility'?)"),
])
def test_bad_values_are_named(old, new, message):
    assert old in VALID
    with pytest.raises(CourseConfigError) as error:
        parse_course(VALID.replace(old, new))
    assert message in str(error.value)


def test_duplicate_exercise_ids_are_rejected():
    doubled = VALID + VALID.split("exercises:")[1]
    with pytest.raises(CourseConfigError, match=r"exercises\[1\].id: 'batchnorm' appears twice"):
        parse_course(doubled)


def test_missing_course_file_is_a_clear_error(tmp_path):
    with pytest.raises(CourseConfigError, match="cannot read the course file"):
        load_course(tmp_path / "nope.yml")


def test_grader_points_that_disagree_with_the_course_stop_grading(tmp_path):
    course = course_with(tmp_path, **{"batch_norm: 28": "batch_norm: 27", "points: 74": "points: 73"})
    with pytest.raises(AssertionError) as error:
        grade(solutions=True, course=course, tmp_path=tmp_path)
    assert "exercises[0].tasks.batch_norm: 27 points here, but the graders award 28" in str(error.value)


def test_malformed_course_file_stops_grading_with_its_location(tmp_path):
    bad = tmp_path / "course.yml"
    bad.write_text("course: [unclosed\n")
    with pytest.raises(AssertionError) as error:
        grade(solutions=True, course=bad, tmp_path=tmp_path)
    assert "course.yml: line" in str(error.value) and "not valid YAML" in str(error.value)


def test_check_course_command(tmp_path):
    run = subprocess.run([sys.executable, "-m", "coursekit", "check-course"], cwd=paths.REPO_ROOT,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    bad = course_with(tmp_path, **{"MLPWithBatchNorm: 4": "MLPWithBatchnorm: 4"})
    run = subprocess.run([sys.executable, "-m", "coursekit", "--course", str(bad), "check-course"],
                         cwd=paths.REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 2
    assert "tasks.MLPWithBatchnorm: batchnorm.py defines no function or class named MLPWithBatchnorm" in run.stderr
    bad = course_with(tmp_path, **{"torch.nn.LayerNorm": "torch.nn.LayerNom"})
    run = subprocess.run([sys.executable, "-m", "coursekit", "--course", str(bad), "check-course"],
                         cwd=paths.REPO_ROOT, capture_output=True, text=True)
    assert run.returncode == 2 and "forbidden.classes: cannot resolve 'torch.nn.LayerNom'" in run.stderr


def test_a_worker_that_cannot_start_is_a_grader_error_not_the_students(tmp_path):
    bad = course_with(tmp_path, **{"torch.nn.LayerNorm": "torch.nn.LayerNom"})
    results, _ = grade(solutions=True, course=bad, tmp_path=tmp_path,
                       select="autograder/test_batchnorm.py::test_backward_2d")
    assert results["tests"][0]["extra_data"]["status"] == "grader error"
    assert "your" not in results["tests"][0]["output"]
