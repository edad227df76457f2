"""Grading a class: `python -m coursekit grade-class` against one `pytest autograder` per student.

Generates a class (each exercise of each student is, by a seeded draw, the reference solution,
the untouched stub, or a catalogued mutant from tests/mutants/; every file carries the student's
name, so no two students' files are identical), grades it both ways in one run, and prints both
wall times and their ratio, then one full reference submission's time through the command (a
cold start: Python, torch and the sandbox included) and through a grading server already running.

    python benchmarks/bench_grade_class.py [--students 100] [--jobs N] [--naive-students K]

Targets (issue "Grade a whole class", on 2 cores): one full submission <= 10 s, 100 submissions
<= 200 s. `--naive-students K` times the naive loop on the first K students only and scales it.
The machine's speed is printed at the start and the end (timing.machine_speed): on a shared
cloud machine it drifts, and timings compare only at like speeds.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from coursekit import paths  # noqa: E402
from coursekit.config import load_course  # noqa: E402

from demo_class import generate_class  # noqa: E402  (draws the class from the catalogued submissions)
from timing import machine_speed  # noqa: E402


def command_seconds(root, out, jobs):
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "coursekit", "grade-class", str(root), "--out", str(out),
                          "--jobs", str(jobs), "--no-progress"], cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"grade-class failed ({run.returncode}):\n{run.stdout[-3000:]}{run.stderr[-3000:]}")
    return time.perf_counter() - started


def warm_seconds(root, out, jobs):
    """Grade `root` as grade-class does, with its grading server already up (a regrade's cost)."""
    from coursekit.batch.client import GradingServer
    from coursekit.batch.local_runner import run_local
    from coursekit.batch.records import ClassGrading
    from coursekit.batch.runs import ClassOptions
    with GradingServer() as server:
        server.start()
        grading = ClassGrading(root, out, ClassOptions(), regrade=True)
        started = time.perf_counter()
        run_local(grading, server, jobs, None)
        seconds = time.perf_counter() - started
    if grading.failures:
        raise SystemExit(f"grading the reference failed: {grading.failures}")
    return seconds


def naive_seconds(root, out, count):
    """One `pytest autograder` process per student, one after another (what a shell loop does)."""
    started = time.perf_counter()
    for folder in sorted((root / "submitted").iterdir())[:count]:
        subprocess.run([sys.executable, "-m", "pytest", str(paths.AUTOGRADER), "-q", "-p", "no:cacheprovider",
                        "--submission", str(folder), "--results-json", str(out / f"{folder.name}.json")],
                       cwd=ROOT, capture_output=True)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--naive-students", type=int, default=None,
                        help="time the naive loop on this many students and scale (default: all)")
    args = parser.parse_args()
    naive_count = min(args.naive_students or args.students, args.students)
    course = load_course(paths.COURSE_FILE)
    print(f"{len(os.sched_getaffinity(0))} cores, {args.jobs} jobs; exercises: {', '.join(course.ids)}")
    print(f"machine speed: {machine_speed():.3f} s for the reference loop (about 0.35 s at full speed)")
    with tempfile.TemporaryDirectory(prefix="bench-class-") as scratch:
        scratch = Path(scratch)
        counts = generate_class(scratch / "class", args.students)
        print(f"class: {args.students} students, exercise files: " + ", ".join(f"{n} {k}" for k, n in counts.items()))
        command = command_seconds(scratch / "class", scratch / "command", args.jobs)
        print(f"grade-class:  {command:7.1f} s  ({command / args.students:.2f} s per submission; target: "
              f"100 in 200 s)")
        (scratch / "naive").mkdir()
        naive = naive_seconds(scratch / "class", scratch / "naive", naive_count) * args.students / naive_count
        scaled = f", scaled from {naive_count}" if naive_count < args.students else ""
        print(f"naive loop:   {naive:7.1f} s  ({naive / args.students:.2f} s per submission{scaled})")
        print(f"ratio:        {naive / command:7.1f} x")
        one = scratch / "one" / "submitted" / "reference"
        for exercise in course.exercises:
            (one / exercise.id).mkdir(parents=True)
            (one / exercise.id / exercise.module_file).write_text(
                (paths.SOLUTIONS / exercise.id / exercise.module_file).read_text())
        single = command_seconds(scratch / "one", scratch / "one-out", args.jobs)
        print(f"one full reference submission through grade-class: {single:.1f} s (target: 10 s)")
        warm = warm_seconds(scratch / "one", scratch / "one-warm", args.jobs)
        print(f"the same, once the grading server runs (a regrade in one process): {warm:.1f} s")
    print(f"machine speed: {machine_speed():.3f} s for the reference loop, at the end")


if __name__ == "__main__":
    main()
