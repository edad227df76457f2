"""Student code that hangs, exits, crashes or cheats fails its own tests; grading goes on."""

import pytest

from grader_runs import course_with, grade, grader_names, reference_source, submission_with
from references import grader_file

BATCHNORM = str(grader_file("batchnorm"))     # the submissions here hold the batchnorm file only
SELECTED = ("autograder/test_batchnorm.py::test_hand_computed_example "
            "autograder/test_batchnorm.py::test_training_output_2d "
            "autograder/test_batchnorm.py::test_backward_2d "
            "autograder/test_batchnorm.py::test_state_dict_keys")


def patched(old, new):
    source = reference_source()
    assert source.count(old) == 1, old
    return source.replace(old, new)


BACKWARD_BODY = "    dims = _reduction_dims(x)\n    n = _values_per_channel(x)\n"


@pytest.fixture
def short_course(tmp_path):
    return course_with(tmp_path, **{"time_limit: 20": "time_limit: 3"})


def test_hang_in_one_function_fails_only_the_tests_that_call_it(tmp_path, short_course):
    hang = "    while True:\n        pass\n"
    folder = submission_with(tmp_path, "hang", patched(BACKWARD_BODY, hang + BACKWARD_BODY))
    results, _ = grade(folder, course=short_course, tmp_path=tmp_path, select=BATCHNORM)
    backward_tests = {t["extra_data"]["test"].rpartition("::")[2] for t in results["tests"]
                      if "batch_norm_backward" in t["tags"][1]}     # BatchNormFunction runs a known-good one
    statuses = {t["extra_data"]["test"]: (t["extra_data"]["status"], t["output"]) for t in results["tests"]
                if t["status"] == "failed"}
    assert grader_names(results, failed=True) == backward_tests, statuses
    timed_out = [t for t in results["tests"] if t["extra_data"]["status"] == "timed out"]
    assert timed_out and all("timed out after 3 s" in t["output"] for t in timed_out)
    assert results["score"] == results["max_score"] - sum(t["max_score"] for t in timed_out)


def test_os_exit_in_a_function_is_a_crash_of_that_test_only(tmp_path):
    exit_now = "    import os\n    os._exit(0)\n"
    folder = submission_with(tmp_path, "exit", patched(BACKWARD_BODY, exit_now + BACKWARD_BODY))
    results, _ = grade(folder, tmp_path=tmp_path, select=SELECTED.split()[2])
    assert results["score"] == 0
    assert results["tests"][0]["extra_data"]["status"] == "crashed"
    results, _ = grade(folder, tmp_path=tmp_path, select=SELECTED.split()[0])
    assert results["score"] == results["max_score"]


def test_forbidden_api_gets_no_credit_and_says_which(tmp_path):
    """More ways to reach it are in tests/attacks/."""
    cheat = ("import torch.nn.functional as F\n"
             "    return F.batch_norm(x, running_mean, running_var, weight, bias, training, momentum, eps)\n")
    marker = "    ### BEGIN SOLUTION: normalise x with the batch or the running statistics\n"
    folder = submission_with(tmp_path, "forbidden", patched(marker, marker + "    " + cheat.lstrip()))
    results, _ = grade(folder, tmp_path=tmp_path, select=SELECTED.split()[1])
    assert results["score"] == 0
    assert results["tests"][0]["extra_data"]["status"] == "forbidden API"
    assert "batch_norm" in results["tests"][0]["output"]


def test_a_time_budget_bounds_a_submission_that_hangs_everywhere(tmp_path):
    course = course_with(tmp_path, **{"time_limit: 20": "time_limit: 2", "time_budget: 150": "time_budget: 5"})
    marker = "    ### BEGIN SOLUTION: normalise x with the batch or the running statistics\n"
    folder = submission_with(tmp_path, "hang", patched(marker, marker + "    while True:\n        pass\n"))
    results, _ = grade(folder, course=course, tmp_path=tmp_path, select=BATCHNORM)
    statuses = [t["extra_data"]["status"] for t in results["tests"] if t["tags"][1] == "batchnorm.batch_norm"]
    assert set(statuses) == {"timed out"}
    assert sum("time budget" in t["output"] for t in results["tests"]) >= len(statuses) - 3


def test_a_worker_that_stops_itself_cannot_hang_the_grader(tmp_path, short_course):
    """The worker stops (SIGSTOP) once it has answered and waits for the next request: later
    requests, small or larger than a pipe's buffer, end on the call's deadline instead of blocking
    the grader."""
    stopper = ("    import os, signal, sys, threading, time\n"
               "    def stop_once_waiting(main=threading.main_thread().ident):\n"
               "        while sys._current_frames()[main].f_code.co_name != '_read_exactly':\n"
               "            time.sleep(0.001)      # until the worker waits for the next request\n"
               "        os.kill(os.getpid(), signal.SIGSTOP)\n"
               "    threading.Thread(target=stop_once_waiting, daemon=True).start()\n")
    folder = submission_with(tmp_path, "stopper", patched(BACKWARD_BODY, stopper + BACKWARD_BODY))
    later = ["test_backward_4d_float64", "test_backward_without_weight", "test_state_dict_keys",
             "test_repr_matches_torch", "test_mlp_structure"]
    select = [f"autograder/test_batchnorm.py::{name}" for name in ["test_backward_2d", *later]]
    results, _ = grade(folder, course=short_course, tmp_path=tmp_path, select=select)
    statuses = {t["extra_data"]["test"].rpartition("::")[2]: t["extra_data"]["status"] for t in results["tests"]}
    assert statuses["test_backward_2d"] == "passed"
    assert "timed out" in {statuses[name] for name in later}
