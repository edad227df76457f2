"""`python -m coursekit gradescope`: the autograder.zip's contents, its limit checks, and its
run_autograder grading uploads in a temporary root laid out as Gradescope's (source/, submission/,
results/), with this environment's Python instead of setup.sh's."""

import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from coursekit import paths
from coursekit.cli import main
from coursekit.config import load_course
from coursekit.gradescope.leaks import solution_leaks
from coursekit.release import exercise_fingerprints, scan_for_leaks

from gradescope_schema import schema_violations

COURSE = load_course(paths.COURSE_FILE)
BATCHNORM = COURSE.exercise("batchnorm")
ROOT_LISTING = {"setup.sh", "run_autograder", "autograder", "coursekit", "course.yml", "pyproject.toml",
                "requirements.txt"}
FEW_GRADERS = "-k running_var"          # a couple of graders: enough to tell a layout that works from one that does not


@pytest.fixture(scope="module")
def upload(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradescope")
    assert main(["gradescope", "batchnorm", "--out", str(out), "--memory", "6144"]) == 0
    return out / "batchnorm" / "autograder.zip"


@pytest.fixture(scope="module")
def unpacked(upload, tmp_path_factory):
    source = tmp_path_factory.mktemp("unpacked")
    with zipfile.ZipFile(upload) as zipped:
        zipped.extractall(source)
    return source


def test_the_zip_root_holds_the_scripts_graders_harness_and_pins(upload):
    with zipfile.ZipFile(upload) as zipped:
        names = zipped.namelist()
        modes = {info.filename: info.external_attr >> 16 for info in zipped.infolist()}
    assert {name.split("/")[0] for name in names} == ROOT_LISTING
    graders = {name for name in names if name.startswith("autograder/")}
    assert graders == {"autograder/conftest.py", "autograder/test_batchnorm.py", "autograder/scenarios/batchnorm.py",
                       "autograder/early_stopping_oracle.py"}
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert "coursekit/grading/plugin.py" in names and "coursekit/gradescope/submission_layout.py" in names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111


def test_requirements_pin_every_dependency(unpacked):
    lines = [line for line in (unpacked / "requirements.txt").read_text().splitlines() if not line.startswith("#")]
    names = [line.split("==")[0].split("[")[0] for line in lines]
    assert {"torch", "torchvision", "numpy", "pytest", "pyyaml"} <= set(names)
    assert all("==" in line and "+" not in line for line in lines)


def test_no_file_of_the_zip_holds_a_reference_solution(unpacked):
    assert not any("solutions" in path.parts for path in unpacked.rglob("*"))
    assert solution_leaks(unpacked, COURSE) == []
    # the release scan itself: outside the graders (which hold known-good code), no solution line at all
    for exercise in COURSE.exercises:
        leaks = scan_for_leaks(unpacked, exercise_fingerprints(exercise))
        outside = [leak for leak in leaks if not leak.startswith("autograder/") and "a solution marker" not in leak
                   and not leak.startswith("coursekit/atomic_write.py: lines 23-24")]    # the kit's own idiom
        assert outside == [], exercise.id


def test_the_leak_check_catches_a_solution_copied_or_edited_into_an_upload(unpacked, tmp_path):
    folder = tmp_path / "upload"
    shutil.copytree(unpacked / "autograder", folder / "autograder")
    shutil.copyfile(paths.SOLUTIONS / "batchnorm" / "batchnorm.py", folder / "autograder" / "helper.py")
    edited = (paths.SOLUTIONS / "batchnorm" / "batchnorm.py").read_text().replace("### ", "# ")
    (folder / "autograder" / "edited.py").write_text("# renamed\n" + edited)
    leaks = solution_leaks(folder, COURSE)
    assert any(leak.startswith("autograder/helper.py: a copy of batchnorm/batchnorm.py") for leak in leaks)
    assert any(leak.startswith("autograder/edited.py:") and "solution lines of batchnorm" in leak for leak in leaks)


@pytest.mark.parametrize("options, key", [
    (["--timeout", "200"], "exercises[0].time_budget (150)"),
    (["--memory", "3072"], "sandbox.memory_mb (4096) exceeds the container's memory (--memory 3072)"),
    ([], "sandbox.memory_mb (4096) exceeds the container's memory (--memory 768)"),
])
def test_limits_that_do_not_fit_stop_the_build_naming_the_key(options, key, tmp_path, capsys):
    memory = ["--memory", "6144"] if options[:1] == ["--timeout"] else []
    assert main(["gradescope", "batchnorm", "--out", str(tmp_path), *memory, *options]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: course.yml: ") and key in error
    assert not (tmp_path / "batchnorm").exists() or not any((tmp_path / "batchnorm").iterdir())


def test_one_assignment_sums_the_time_budgets(tmp_path, capsys):
    assert main(["gradescope", "batchnorm", "dropout", "--one-assignment", "--out", str(tmp_path),
                 "--memory", "6144", "--timeout", "380"]) == 2
    assert "= 390 s exceeds the assignment's timeout (--timeout 380)" in capsys.readouterr().err
    assert main(["gradescope", "batchnorm", "dropout", "--one-assignment", "--out", str(tmp_path),
                 "--memory", "6144", "--timeout", "390"]) == 0
    with zipfile.ZipFile(tmp_path / "all" / "autograder.zip") as zipped:
        names = zipped.namelist()
    assert {"autograder/test_batchnorm.py", "autograder/test_dropout.py"} <= set(names)
    assert "autograder/test_weight_decay.py" not in names
    assert "timeout 390 s, memory 6144 MB" in capsys.readouterr().out


# --- run_autograder, in a temporary root laid out as Gradescope's -------------------------------------

def gradescope_root(unpacked, tmp_path):
    root = tmp_path / "autograder"
    shutil.copytree(unpacked, root / "source")
    (root / "submission").mkdir()
    (root / "results").mkdir()
    return root


def run_autograder(root, pytest_args=FEW_GRADERS):
    environment = {**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable,
                   "KIT_PYTEST_ARGS": pytest_args}
    finished = subprocess.run(["bash", str(root / "source" / "run_autograder")], env=environment,
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert schema_violations(results) == []             # finish.py's notes included
    assert {"score", "tests", "output"} <= set(results) and results["output_format"] == "md"
    for test in results["tests"]:
        assert {"name", "number", "score", "max_score", "output", "visibility", "status"} <= set(test)
    return results


def test_the_reference_at_the_submission_root_gets_full_marks_on_every_grader(unpacked, tmp_path):
    root = gradescope_root(unpacked, tmp_path)
    shutil.copyfile(paths.SOLUTIONS / "batchnorm" / "batchnorm.py", root / "submission" / "batchnorm.py")
    results = run_autograder(root, pytest_args="")
    assert results["score"] == results["max_score"] == BATCHNORM.points
    assert "About your submission" not in results["output"]           # nothing to say about the upload
    assert f"- `batchnorm`: {BATCHNORM.points} / {BATCHNORM.points} points" in results["output"]
    assert results["extra_data"]["course"] == COURSE.id


def test_the_untouched_stub_scores_zero(unpacked, tmp_path):
    root = gradescope_root(unpacked, tmp_path)
    shutil.copyfile(paths.ASSIGNMENTS / "batchnorm" / "batchnorm.py", root / "submission" / "batchnorm.py")
    results = run_autograder(root)
    assert results["score"] == 0 and results["tests"]
    assert all(test["status"] == "failed" for test in results["tests"])


def test_the_file_in_a_subfolder_is_found(unpacked, tmp_path):
    root = gradescope_root(unpacked, tmp_path)
    (root / "submission" / "my work").mkdir()
    shutil.copyfile(paths.SOLUTIONS / "batchnorm" / "batchnorm.py", root / "submission" / "my work" / "batchnorm.py")
    results = run_autograder(root)
    assert results["score"] == results["max_score"] > 0


def test_the_file_inside_a_zip_is_found_and_unsafe_members_are_skipped(unpacked, tmp_path):
    root = gradescope_root(unpacked, tmp_path)
    with zipfile.ZipFile(root / "submission" / "upload.zip", "w") as zipped:
        zipped.write(paths.SOLUTIONS / "batchnorm" / "batchnorm.py", "hw/batchnorm.py")
        zipped.writestr("../escaped.py", "print('outside')\n")
    results = run_autograder(root)
    assert results["score"] == results["max_score"] > 0
    assert not (tmp_path / "escaped.py").exists() and not (root / "escaped.py").exists()
    assert "'../escaped.py' skipped" in results["output"]


def test_an_empty_submission_gets_a_clear_message_and_zero(unpacked, tmp_path):
    root = gradescope_root(unpacked, tmp_path)
    results = run_autograder(root, pytest_args="")     # no grader runs: the exercise is set aside at once
    assert results["score"] == 0
    assert "Your submission holds no files" in results["output"]
    [test] = results["tests"]
    assert test["max_score"] == BATCHNORM.points and "batchnorm.py was not found" in test["output"]


def test_a_misnamed_file_is_named_in_the_message(unpacked, tmp_path):
    root = gradescope_root(unpacked, tmp_path)
    shutil.copyfile(paths.SOLUTIONS / "batchnorm" / "batchnorm.py", root / "submission" / "batchnorm (1).py")
    results = run_autograder(root)
    assert results["score"] == 0
    assert "Did you mean batchnorm (1).py? Rename it to batchnorm.py" in results["output"]


def test_two_different_copies_grade_the_nearest_and_say_so(unpacked, tmp_path):
    root = gradescope_root(unpacked, tmp_path)
    shutil.copyfile(paths.SOLUTIONS / "batchnorm" / "batchnorm.py", root / "submission" / "batchnorm.py")
    (root / "submission" / "old").mkdir()
    shutil.copyfile(paths.ASSIGNMENTS / "batchnorm" / "batchnorm.py", root / "submission" / "old" / "batchnorm.py")
    results = run_autograder(root)
    assert results["score"] == results["max_score"] > 0
    assert "2 different files named batchnorm.py (batchnorm.py, old/batchnorm.py): batchnorm.py was graded" \
        in results["output"]
