"""The red-team suite: every submission in tests/attacks/catalogue.yml, graded by the real grader.

For each attack: the score is at most what the submission honestly earns, grading finishes with a
valid results.json, the course repository and planted victim files are untouched, nothing new
appears outside the worker's scratch folder, no connection reaches a loopback listener, nothing
read from the solutions or graders comes back, and no process the attack started survives.
Benign oddities (binary output, CRLF and a BOM, a slow import) must get full marks.
"""

import glob
import hashlib
import json
import os
import socket
import threading
from pathlib import Path

import pytest
import yaml

from coursekit import paths
from coursekit.grading.sandbox import bubblewrap_problem

from grader_runs import course_with, grade, grader_pids, reference_source
from references import grader_file

ATTACKS = Path(__file__).with_name("attacks")
CATALOGUE = yaml.safe_load((ATTACKS / "catalogue.yml").read_text())
QUICK = [f"{grader_file('batchnorm')}::{name}" for name in
         ("test_training_output_2d", "test_backward_2d")]
PROTECTED = ("solutions", "autograder", "coursekit", "assignments", "course.yml", "tests/attacks")
SECRETS = ("LEAKED", "BEGIN SOLUTION", "@points(")
POSTLUDE = '''

if _KIT_LEAKS:   # carry whatever the attack read out through an error message
    def batch_norm_backward(*args, **kwargs):
        raise RuntimeError("LEAKED: " + " | ".join(_KIT_LEAKS)[:150])
'''


@pytest.fixture(scope="module", autouse=True)
def sandboxed():
    problem = bubblewrap_problem()
    if problem and os.environ.get("CI"):
        pytest.fail(f"the red-team suite needs the sandbox in CI: {problem}")
    if problem:
        pytest.skip(f"no sandbox here: {problem}")
    for leftover in glob.glob("/tmp/kit-pwned-*"):
        os.remove(leftover)


class Listener:
    """A TCP server on 127.0.0.1 that records every connection it accepts."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                connection, peer = self.server.accept()
            except OSError:
                return
            self.connections.append(peer)
            connection.close()


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.server.close()


def fingerprint(root=paths.REPO_ROOT):
    """A hash of every protected file's path, mode and bytes, and the names at the top level."""
    digest = hashlib.sha256("\n".join(sorted(os.listdir(root))).encode())
    for name in PROTECTED:
        path = root / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*")
                                                     if p.is_file() and "__pycache__" not in p.parts)
        for file in files:
            digest.update(f"{file}:{file.stat().st_mode}".encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def plant_victims(folder):
    folder.mkdir()
    (folder / "victim.txt").write_text("original")
    (folder / "keep.txt").write_text("keep")
    return folder


def victims_state(folder):
    return {path.name: (path.read_bytes(), path.stat().st_mode) for path in folder.iterdir()}


def base_source(base):
    if base == "stub":
        return (paths.ASSIGNMENTS / "batchnorm" / "batchnorm.py").read_text()
    return reference_source() if base == "reference" else ""


def submission_source(entry, kit):
    text = (f"KIT = {kit!r}\n_KIT_LEAKS = []\n" + base_source(entry["base"]) + "\n\n"
            + (ATTACKS / f"{entry['name']}.py").read_text() + POSTLUDE)
    if entry.get("transform") == "crlf_bom":
        return "\ufeff" + text.replace("\n", "\r\n")
    return text


def valid_results(results):
    assert {"score", "max_score", "tests"} <= set(results)
    assert results["score"] == sum(test["score"] for test in results["tests"])
    for test in results["tests"]:
        assert 0 <= test["score"] <= test["max_score"], test
        assert test["status"] in ("passed", "failed") and isinstance(test["output"], str)


def surviving_attack_processes(tag):
    """Processes named `tag` (the fork bomb names its children with it) still running."""
    names = []
    for comm in glob.glob("/proc/[0-9]*/comm"):
        try:
            names.append(Path(comm).read_text().strip())
        except OSError:
            pass
    return [name for name in names if name == tag]


def process_tag():
    return f"kit{os.getpid() % 10**8}"   # a process name (at most 15 characters) unique to this test process


def grade_entry(entry, tmp_path, listener):
    kit = {"repo": str(paths.REPO_ROOT), "victims": str(tmp_path / "victims"), "port": listener.port,
           "grader_pids": grader_pids(), "tag": process_tag()}
    folder = tmp_path / "submission" / "batchnorm"
    folder.mkdir(parents=True)
    (folder / "batchnorm.py").write_bytes(submission_source(entry, kit).encode("utf-8"))
    course = course_with(tmp_path, **entry["course"]) if entry.get("course") else None
    select = QUICK if entry["select"] == "quick" else str(grader_file("batchnorm"))
    # never without the sandbox: unconfined, these attacks really do damage the machine
    return grade(folder.parent, course=course, select=select, sandbox="bubblewrap", tmp_path=tmp_path)


@pytest.mark.parametrize("entry", CATALOGUE["attacks"], ids=lambda entry: entry["name"])
def test_an_attack_earns_only_what_it_honestly_earns_and_harms_nothing(entry, tmp_path, listener):
    before, connections = fingerprint(), len(listener.connections)
    victims = plant_victims(tmp_path / "victims")
    planted = victims_state(victims)
    results, log = grade_entry(entry, tmp_path, listener)

    valid_results(results)
    statuses = {test["extra_data"]["test"].rpartition("::")[2]: test["extra_data"]["status"]
                for test in results["tests"]}
    lost = [test for test in results["tests"]
            if test["extra_data"]["test"].rpartition("::")[2] in entry.get("lose", ())]
    honest = 0 if entry["honest"] == 0 else results["max_score"] - sum(test["max_score"] for test in lost)
    assert results["score"] <= honest, statuses
    assert all(statuses[name] != "passed" for name in entry.get("lose", ())), statuses
    assert set(entry.get("statuses", ())) <= set(statuses.values()), statuses
    assert fingerprint() == before, "the course repository changed"
    assert victims_state(victims) == planted, "a file outside the scratch folder changed"
    assert glob.glob("/tmp/kit-pwned-*") == []
    assert len(listener.connections) == connections, "a connection reached the loopback listener"
    shown = json.dumps(results) + log
    assert not [secret for secret in SECRETS if secret in shown], shown[-3000:]
    assert surviving_attack_processes(process_tag()) == []


@pytest.mark.parametrize("entry", CATALOGUE["benign"], ids=lambda entry: entry["name"])
def test_an_odd_but_correct_submission_gets_full_marks(entry, tmp_path, listener):
    entry = {**entry, "honest": "max"}
    plant_victims(tmp_path / "victims")
    results, log = grade_entry(entry, tmp_path, listener)
    valid_results(results)
    assert results["score"] == results["max_score"] > 0, log[-3000:]


def test_the_catalogue_names_every_attack_file_once():
    named = [entry["name"] for entry in CATALOGUE["attacks"] + CATALOGUE["benign"]]
    assert len(named) == len(set(named))
    assert sorted(named) == sorted(path.stem for path in ATTACKS.glob("*.py"))
    assert len(CATALOGUE["attacks"]) >= 20
