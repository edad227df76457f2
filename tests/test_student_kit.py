"""What a released folder gives a student to start with: requirements, set-up checks, a first cell."""

import importlib.metadata
import importlib.util
import json
import shutil

import pytest

from coursekit import paths, student_kit
from coursekit.config import load_course

EXERCISES = load_course(paths.COURSE_FILE).exercises


def test_student_requirements_are_the_kits_own_dependencies():
    declared = {requirement.replace(" ", "") for requirement in importlib.metadata.requires("dl-regularization-kit")}
    assert set(student_kit.STUDENT_REQUIREMENTS) <= declared


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_release_carries_requirements_conftest_and_getting_started(exercise):
    folder = paths.ASSIGNMENTS / exercise.id
    assert (folder / "requirements.txt").read_text() == student_kit.requirements_text()
    assert (folder / "conftest.py").read_text() == student_kit.conftest_text(exercise)
    first_cell = "".join(json.loads((folder / f"{exercise.id}.ipynb").read_text())["cells"][0]["source"])
    assert "**Getting started.**" in first_cell and "requirements.txt" in first_cell
    assert f"jupyter lab {exercise.id}.ipynb" in first_cell and "python -m pytest" in first_cell


def released_conftest(tmp_path, exercise_id="dropout"):
    """The released conftest.py of an exercise, copied into tmp_path and imported."""
    exercise = load_course(paths.COURSE_FILE).exercise(exercise_id)
    shutil.copy(paths.ASSIGNMENTS / exercise_id / "conftest.py", tmp_path / "conftest.py")
    spec = importlib.util.spec_from_file_location(f"released_conftest_{exercise_id}", tmp_path / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return exercise, module


def test_public_tests_outside_the_environment_say_how_to_get_one(tmp_path, monkeypatch):
    _, conftest = released_conftest(tmp_path)
    real_find_spec = importlib.util.find_spec
    without_torch = lambda name, *rest: None if name == "torch" else real_find_spec(name, *rest)  # noqa: E731
    monkeypatch.setattr(importlib.util, "find_spec", without_torch)
    with pytest.raises(pytest.UsageError) as error:
        conftest.pytest_configure(None)
    message = str(error.value)
    assert message.startswith("torch is not installed") and "python -m pip install -r requirements.txt" in message
    venv = tmp_path / "course" / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "activate").write_text("")
    exercise_folder = tmp_path / "course" / "assignments" / "dropout"
    exercise_folder.mkdir(parents=True)
    _, conftest = released_conftest(exercise_folder)
    monkeypatch.chdir(exercise_folder)
    with pytest.raises(pytest.UsageError, match=r"source \.\./\.\./\.venv/bin/activate"):
        conftest.pytest_configure(None)
    monkeypatch.setattr(conftest.sys, "prefix", str(tmp_path / "course" / ".venv"))   # that .venv, active
    with pytest.raises(pytest.UsageError, match="active but lacks these packages"):
        conftest.pytest_configure(None)


def test_public_tests_on_a_file_that_is_not_utf8_say_to_save_it_as_utf8(tmp_path):
    exercise, conftest = released_conftest(tmp_path)
    (tmp_path / exercise.module_file).write_bytes("# caf\u00e9\n".encode("latin-1"))
    with pytest.raises(pytest.UsageError, match=r"not valid UTF-8 text \(line 1\).*save it as UTF-8"):
        conftest.pytest_configure(None)
    (tmp_path / exercise.module_file).write_text("# café\n", encoding="utf-8")
    conftest.pytest_configure(None)
    (tmp_path / exercise.module_file).write_bytes("# -*- coding: latin-1 -*-\n# caf\u00e9\n".encode("latin-1"))
    conftest.pytest_configure(None)         # a declared encoding is read as Python (and the grader) read it
