"""Grade a class: every student folder, in parallel, resumable, with a results.json each and a CSV.

Submissions are graded by the real graders (`pytest autograder/test_<id>.py ...`), each run in a
fresh fork of one grading server, which has torch, the harness and a zygote loaded already
(server.py, client.py); the student's code still runs in a sandbox of its own. The parts:

    records.py        who is to grade, and what is written (results.json, grading.log, grades.csv)
    (coursekit/report/ then writes report.html and each student's feedback pages from them)
    plan.py           the order of the runs: whole submissions, then the last students per exercise
    runs.py           one run: some exercises of one student's folder, in one pytest run
    status.py         the CSV's status column: what scored 0 without being graded (notebooks.py: notebooks)
    local_runner.py   `jobs` runs at once on this machine
    dask_runner.py    each submission on a Dask worker, which grades it the same way
"""

import os
import shlex
import sys
from pathlib import Path

from coursekit import paths
from coursekit.batch.client import GradingServer
from coursekit.batch.local_runner import run_local
from coursekit.batch.records import PREVIOUS_RESULTS, ClassGrading
from coursekit.batch.runs import ClassOptions


def _progress(total, enabled):
    if not enabled:
        return None
    from tqdm import tqdm
    return tqdm(total=total, unit="submission", file=sys.stderr, dynamic_ncols=True)


def _python():
    """This interpreter as the person at the terminal would type it: relative to here when it is below here."""
    executable = Path(sys.executable)
    try:
        return str(executable.relative_to(Path.cwd()))
    except ValueError:
        return str(executable)


def grade_class_command(root, out, *, jobs=None, scheduler=None, options=None):
    """The `python -m coursekit grade-class` command line that grades `root` into `out` with these
    settings, without --regrade: what a rerun types. `options.seconds` has no flag and is left out."""
    options = options or ClassOptions()
    words = [_python(), "-m", "coursekit"]
    if Path(options.course).resolve() != paths.COURSE_FILE.resolve():
        words += ["--course", str(options.course)]
    words += ["grade-class", str(root), "--out", str(out)]
    for flag, value in (("--jobs", jobs), ("--scheduler", scheduler), ("--sandbox", options.sandbox)):
        if value is not None:
            words += [flag, str(value)]
    return shlex.join(words)


def _interrupted(grading, command):
    """What an interrupted run says: what was saved, and the exact command that grades the rest."""
    saved, total = grading.saved(), len(grading.todo)
    lines = [f"interrupted: {saved} of {total} submission(s) were graded and saved in {grading.out}"]
    if grading.regrade:
        lines[0] += (f"; the other {total - saved}, whose earlier results are set aside in "
                     f"<student>/{PREVIOUS_RESULTS}, are graded by this command "
                     f"(without --regrade, which would grade all {total} again):")
    else:
        lines[0] += "; to grade the rest, run the same command again:"
    return lines + [f"    {command}"]


def grade_class(root, out, *, jobs=None, regrade=False, scheduler=None, options=None, progress=True,
                echo=print):
    """Grade every submission under `root` into `out`; returns the exit status (0: all graded).

    Raises LayoutError for a folder without students, GradingServerError if grading cannot start.
    An interruption (KeyboardInterrupt) stops the gradings under way, says how many results were
    saved and the command that grades the rest (without --regrade: a regrade sets every earlier
    result aside as it starts, records.py), and is raised again.
    """
    options = options or ClassOptions()
    grading = ClassGrading(root, out, options, regrade=regrade)
    if regrade:
        grading.set_aside_previous()
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
        for line in _interrupted(grading, grade_class_command(root, out, jobs=jobs, scheduler=scheduler,
                                                              options=options)):
            echo(line)
        raise
    finally:
        if bar is not None:
            bar.close()
    for line in grading.summary():
        echo(line)
    for line in _report_lines(grading):
        echo(line)
    return 3 if grading.failures else 0


def _report_lines(grading):
    """Write the class report and the feedback pages (coursekit/report/); the lines saying where they are.

    The grades are saved whatever happens here: a report that cannot be written is said, not raised.
    """
    from coursekit.report.write import write_report
    try:
        written = write_report(grading.out, grading.course)
    except Exception as error:      # the run's results stand; `coursekit report` retries
        return [f"the class report could not be written ({type(error).__name__}: {error}); the grades are "
                f"saved: fix the cause and run python -m coursekit report {grading.out}"]
    return [f"class report: {written.report}; each graded student's feedback: "
            f"{grading.out / '<student>' / 'feedback.html'} (and feedback.md)"]
