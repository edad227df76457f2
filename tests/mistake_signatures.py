"""Write autograder/mistake_signatures.json: each catalogued mistake and the grader tests it fails.

    python tests/mistake_signatures.py [--jobs N]          (make mistake-signatures)

Every `kind: mutant` entry of tests/mutants/<id>.yml is graded by the real graders, and the tests
it loses points on, each with its status, are its signature; the class report (coursekit/report/) names the mistakes
whose signature matches a student's results. Nothing here is written by hand: the file is what
grading the catalogue gives, and tests/test_mutants.py checks every mutant's signature against it
each time the suite grades the catalogue (a changed grader or catalogue fails there until this
script is run again).
"""

import argparse
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from coursekit.atomic_write import write_atomically
from coursekit.report.mistakes import (
    SIGNATURES_FILE,
    grader_test_name,
    lost_points,
    signature_document,
    status_of_test,
)

from catalogues import all_submissions
from grader_runs import grade, submission_with
from references import grader_file


def failed_tests(results):
    """{grader test name: status} for each test of a results.json document that lost points."""
    return {grader_test_name(test): status_of_test(test) for test in results["tests"] if lost_points(test)}


def graded_signature(entry, workspace):
    folder = submission_with(Path(workspace) / entry.exercise, entry.id, entry.source, exercise=entry.exercise)
    results, _ = grade(folder, select=str(grader_file(entry.exercise)), tmp_path=folder)
    return failed_tests(results)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    options = parser.parse_args(argv)
    mutants = [entry for entry in all_submissions() if entry.kind == "mutant"]
    with tempfile.TemporaryDirectory() as workspace, ThreadPoolExecutor(options.jobs) as pool:
        signatures = list(pool.map(lambda entry: graded_signature(entry, workspace), mutants))
    document = signature_document(zip(mutants, signatures))
    write_atomically(SIGNATURES_FILE, json.dumps(document, indent=1) + "\n")
    print(f"{len(mutants)} mistakes' signatures written to {SIGNATURES_FILE}")


if __name__ == "__main__":
    main()
