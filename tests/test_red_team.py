"""The red-team suite: every submission in tests/attacks/catalogue.yml, graded by the real grader.

For each attack: the score is at most what the submission honestly earns, grading finishes with a
valid results.json, the course repository and planted victim files are untouched, nothing new
appears outside the worker's scratch folder (the victims and shared folders are writable by every
user, so only the sandbox protects them), no connection reaches a loopback listener (TCP, UDP or
an abstract unix socket), nothing read from the solutions or graders comes back, and no process
the attack started survives. Benign oddities (binary output, CRLF and a BOM, a slow import) must
get full marks.

Every attack is graded in each tier: bubblewrap on this host, and the landlock tier where
bubblewrap fails as it does in Gradescope's Docker containers (tests/docker_like.py: Docker's
capabilities and seccomp profile), once as root and once as an unprivileged user.
"""

import glob
import hashlib
import json
import os
import shutil
import socket
import sys
import sysconfig
import tempfile
import threading
from pathlib import Path

import pytest
import yaml

from coursekit import paths
from coursekit.batch.client import GradingServer
from coursekit.grading.bubblewrap import bubblewrap_problem

from grader_runs import course_with, grade, grader_pids, reference_source
from references import grader_file

ATTACKS = Path(__file__).with_name("attacks")
CATALOGUE = yaml.safe_load((ATTACKS / "catalogue.yml").read_text())
QUICK = [f"{grader_file('batchnorm')}::{name}" for name in
         ("test_training_output_2d", "test_backward_2d")]
PROTECTED = ("solutions", "autograder", "coursekit", "assignments", "course.yml", "tests/attacks")
SECRETS = ("LEAKED", "BEGIN SOLUTION", "@points(")
DOCKER_LIKE = [sys.executable, str(Path(__file__).with_name("docker_like.py"))]
TIERS = {   # tier -> (the grading server's launcher, --sandbox)
    "bubblewrap": ((), "bubblewrap"),
    "landlock-as-root-in-docker": ((*DOCKER_LIKE, "--"), "landlock"),
    "landlock-as-a-user-in-docker": ((*DOCKER_LIKE, "--user", "nobody", "--"), "landlock"),
    "landlock-here": ((), "landlock"),       # inside a real container (make docker-check)
}
# KIT_RED_TEAM_TIERS: the tiers to grade in, comma-separated (default: all but landlock-here)
SELECTED = os.environ.get("KIT_RED_TEAM_TIERS", "bubblewrap,landlock-as-root-in-docker,"
                                                "landlock-as-a-user-in-docker").split(",")
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", sysconfig.get_paths()["purelib"])
POSTLUDE = '''

if _KIT_LEAKS:   # carry whatever the attack read out through an error message
    def batch_norm_backward(*args, **kwargs):
        raise RuntimeError("LEAKED: " + " | ".join(_KIT_LEAKS)[:150])
'''


def pwned_files():
    """Files the attacks name kit-pwned-* or kit_pwned* in the folders every worker shares."""
    return [path for folder in SHARED_FOLDERS for pattern in ("kit-pwned-*", "kit_pwned*")
            for path in glob.glob(os.path.join(folder, pattern))]


@pytest.fixture(scope="module", params=SELECTED)
def tier(request):
    """(the tier's grading server, its --sandbox mode), for every attack of this module."""
    launcher, mode = TIERS[request.param]
    problem = bubblewrap_problem() if mode == "bubblewrap" else None
    if launcher and os.geteuid() != 0:
        problem = "tests/docker_like.py needs root to reproduce a Docker container"
    if problem and os.environ.get("CI"):
        pytest.fail(f"the red-team suite needs every tier in CI: {problem}")
    if problem:
        pytest.skip(f"no {request.param} here: {problem}")
    for leftover in pwned_files():
        os.remove(leftover)
    with GradingServer(launcher=launcher) as server:
        yield server, mode


@pytest.fixture
def workdir():
    """A folder every user may read and write (the grader may run as nobody), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="kit-red-team-"))
    folder.chmod(0o777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


class Listener:
    """Servers on 127.0.0.1 (TCP and UDP, one port) and an abstract unix socket, recording every contact."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.datagrams = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.datagrams.bind(("127.0.0.1", self.port))
        self.unix_name = f"kit-listener-{os.getpid()}"
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind("\0" + self.unix_name)
        self.unix.listen()
        self.connections = []
        for target, args in ((self._accept, (self.server, "tcp")), (self._accept, (self.unix, "unix")),
                             (self._receive, ())):
            threading.Thread(target=target, args=args, daemon=True).start()

    def _accept(self, server, kind):
        while True:
            try:
                connection, peer = server.accept()
            except OSError:
                return
            self.connections.append((kind, peer))
            connection.close()

    def _receive(self):
        while True:
            try:
                _, peer = self.datagrams.recvfrom(1024)
            except OSError:
                return
            self.connections.append(("udp", peer))

    def close(self):
        for sock in (self.server, self.datagrams, self.unix):
            sock.close()


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


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
    """Files any user could change: only the sandbox keeps a worker from them."""
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    for name, text in (("victim.txt", "original"), ("keep.txt", "keep")):
        (folder / name).write_text(text)
        (folder / name).chmod(0o666)
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


def grade_entry(entry, workdir, listener, tier):
    server, mode = tier
    server.start()
    kit = {"repo": str(paths.REPO_ROOT), "victims": str(workdir / "victims"), "port": listener.port,
           "unix": listener.unix_name, "grader_pids": grader_pids(server), "tag": process_tag(),
           "site_packages": sysconfig.get_paths()["purelib"]}
    folder = workdir / "submission" / "batchnorm"
    folder.mkdir(parents=True)
    (folder / "batchnorm.py").write_bytes(submission_source(entry, kit).encode("utf-8"))
    course = course_with(workdir, **entry["course"]) if entry.get("course") else None
    select = QUICK if entry["select"] == "quick" else str(grader_file("batchnorm"))
    # never without the sandbox: unconfined, these attacks really do damage the machine
    return grade(folder.parent, course=course, select=select, sandbox=mode, tmp_path=workdir, server=server)


@pytest.mark.parametrize("entry", CATALOGUE["attacks"], ids=lambda entry: entry["name"])
def test_an_attack_earns_only_what_it_honestly_earns_and_harms_nothing(entry, workdir, listener, tier):
    before, connections = fingerprint(), len(listener.connections)
    victims = plant_victims(workdir / "victims")
    planted = victims_state(victims)
    results, log = grade_entry(entry, workdir, listener, tier)

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
    assert pwned_files() == []
    assert len(listener.connections) == connections, "a connection reached the loopback listener"
    shown = json.dumps(results) + log
    assert not [secret for secret in SECRETS if secret in shown], shown[-3000:]
    assert surviving_attack_processes(process_tag()) == []


@pytest.mark.parametrize("entry", CATALOGUE["benign"], ids=lambda entry: entry["name"])
def test_an_odd_but_correct_submission_gets_full_marks(entry, workdir, listener, tier):
    entry = {**entry, "honest": "max"}
    plant_victims(workdir / "victims")
    results, log = grade_entry(entry, workdir, listener, tier)
    valid_results(results)
    assert results["score"] == results["max_score"] > 0, log[-3000:]


def test_the_catalogue_names_every_attack_file_once():
    named = [entry["name"] for entry in CATALOGUE["attacks"] + CATALOGUE["benign"]]
    assert len(named) == len(set(named))
    assert sorted(named) == sorted(path.stem for path in ATTACKS.glob("*.py"))
    assert len(CATALOGUE["attacks"]) >= 20
