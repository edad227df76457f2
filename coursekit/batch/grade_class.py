"""Grade a class: every student folder, in parallel, resumable, with a results.json each and a CSV.

Submissions are graded by the real graders (`pytest autograder/test_<id>.py ...`), each run in a
fresh fork of one grading server, which has torch, the harness and a zygote loaded already
(server.py, client.py); the student's code still runs in a sandbox of its own. The parts:

    records.py        who is to grade, and what is written (results.json, grading.log, grades.csv)
    plan.py           the order of the runs: whole submissions, then the last students per exercise
    runs.py           one run: some exercises of one student's folder, in one pytest run
    local_runner.py   `jobs` runs at once on this machine
    dask_runner.py    each submission on a Dask worker, which grades it the same way
"""

import os
import sys

from coursekit.batch.client import GradingServer
from coursekit.batch.local_runner import run_local
from coursekit.batch.records import ClassGrading
from coursekit.batch.runs import ClassOptions


def _progress(total, enabled):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="submission", file=sys.stderr, dynamic_ncols=True)


def grade_class(root, out, *, jobs=None, regrade=False, scheduler=None, options=None, progress=True,
                echo=print):
    """Grade every submission under `root` into `out`; returns the exit status (0: all graded).

    Raises LayoutError for a folder without students, GradingServerError if grading cannot start.
    An interruption (KeyboardInterrupt) stops the gradings under way, says how many results were
    saved, and is raised again; a rerun grades the rest.
    """
    options = options or ClassOptions()
    grading = ClassGrading(root, out, options, regrade=regrade)
    grading.write_csv()
    bar = None
    try:
        if scheduler:
            from coursekit.batch.dask_runner import run_dask
            bar = _progress(len(grading.todo), progress and grading.todo)
            run_dask(grading, scheduler, bar)
        elif grading.todo:
            with GradingServer(options.sandbox, options.course) as server:
                server.start()          # boots while nothing else runs; a broken course stops here
                bar = _progress(len(grading.todo), progress)
                run_local(grading, server, jobs or len(os.sched_getaffinity(0)), bar)
    except KeyboardInterrupt:
        if bar is not None:
            bar.close()
            bar = None
        echo(f"interrupted: {grading.saved()} of {len(grading.todo)} submission(s) were graded and saved "
             f"in {grading.out}; run the same command again to grade the rest")
        raise
    finally:
        if bar is not None:
            bar.close()
    for line in grading.summary():
        echo(line)
    return 3 if grading.failures else 0
