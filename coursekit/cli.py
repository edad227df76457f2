"""`python -m coursekit`: the kit's instructor commands.

    check-course          validate course.yml against the reference solutions
    release [ID ...]      release exercises to assignments/ through nbgrader (default: all)
    grade-class DIR       grade every student folder in DIR (see coursekit/batch/grade_class.py)
    gradescope [ID ...]   build Gradescope's autograder.zip per exercise (see coursekit/gradescope/build.py)
    nbgrader-prepare ID   after `nbgrader collect ID`: the released notebook for a submission without one
    report GRADES_DIR     the class report and each student's feedback pages (see coursekit/report/)
"""

import argparse
import signal
import threading

from coursekit import paths
from coursekit.config import ISOLATIONS, CourseConfigError, load_course
from coursekit.course_checks import course_problems
from coursekit.messages import fail, fail_all


def _grade_class(args, course):
    from coursekit.batch.client import GradingServerError
    from coursekit.batch.grade_class import ClassOptions, grade_class
    from coursekit.batch.layout import LayoutError
    if args.jobs is not None and args.jobs < 1:
        return fail("--jobs must be at least 1")
    options = ClassOptions(course=str(course.path), sandbox=args.sandbox)
    in_main_thread = threading.current_thread() is threading.main_thread()      # where signals can be handled
    previous = signal.signal(signal.SIGTERM, _interrupt) if in_main_thread else None  # `kill` ends it as Ctrl-C does
    try:
        return grade_class(args.submissions, args.out, jobs=args.jobs, regrade=args.regrade,
                           scheduler=args.scheduler, options=options, progress=not args.no_progress,
                           echo=lambda line: print(line, flush=True))
    except (LayoutError, GradingServerError) as error:
        return fail(error)
    except KeyboardInterrupt:
        return 130
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _gradescope(args, course):
    from coursekit.gradescope import limits
    from coursekit.gradescope.build import BuildError, build_uploads
    from coursekit.gradescope.requirements import RequirementsError
    exercises = [course.exercise(exercise_id) for exercise_id in args.ids or course.ids]
    groups = [exercises] if args.one_assignment else [[exercise] for exercise in exercises]
    problems = [problem for group in groups
                for problem in limits.limit_problems(course, group, args.timeout, args.memory)]
    if problems:
        return fail_all(dict.fromkeys(problems))
    try:
        uploads = build_uploads(course, args.ids, args.out, one_assignment=args.one_assignment)
    except (BuildError, RequirementsError) as error:
        return fail(error, code=1)
    for upload in uploads:
        print(f"{upload.name}: {upload.zip_path}  (needs at most {limits.needed_seconds(upload.exercises):g} s)")
    print(f"On Gradescope, for each assignment: Configure Autograder > Zip file upload (the zip above), "
          f"Ubuntu base image; Autograder Settings: timeout {args.timeout:g} s, memory {args.memory} MB "
          f"(at least sandbox.memory_mb, {course.sandbox.memory_mb} MB).")
    return 0


def _nbgrader_prepare(args, course):
    from coursekit.gradebook.missing_notebooks import add_missing_notebooks
    for exercise_id in args.ids:
        given = add_missing_notebooks(args.course_dir, course.exercise(exercise_id), args.release)
        print(f"{exercise_id}: the released notebook added for {len(given)} submission(s) without one"
              + (f": {', '.join(given)}" if given else ""))
    return 0


def _report(args, course):
    from coursekit.report.class_results import ReportError
    from coursekit.report.write import write_report
    try:
        written = write_report(args.grades, course)
    except ReportError as error:
        return fail(error)
    print(f"class report: {written.report}; feedback pages for {written.feedback_pages} student(s): "
          f"{args.grades}/<student>/feedback.html and feedback.md")
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m coursekit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", default=str(paths.COURSE_FILE), help="the course file")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check-course", help="validate course.yml against the reference solutions")
    release_parser = commands.add_parser("release", help="release exercises to assignments/")
    release_parser.add_argument("ids", nargs="*", help="exercise ids (default: all)")
    class_parser = commands.add_parser(
        "grade-class", help="grade a folder of submissions: results.json per student and a class CSV",
        description="Grade every student folder in DIR (nbgrader's submitted/<student>/, or "
                    "<student>/ holding <id>/<id>.py or <id>.py); one student's own folder is refused. "
                    "Writes OUT/<student>/results.json and OUT/grades.csv (its first row: the points "
                    "possible). Exit status 0 when every submission was graded, whatever the scores.")
    class_parser.add_argument("submissions", metavar="DIR", help="the class's submissions")
    class_parser.add_argument("--out", default="grades", help="where results go (default: ./grades)")
    class_parser.add_argument("--jobs", "-j", type=int, default=None,
                              help="exercises graded at once (default: this machine's cores)")
    class_parser.add_argument("--regrade", action="store_true", help="grade again what is graded already")
    class_parser.add_argument("--scheduler", metavar="ADDRESS",
                              help="a Dask scheduler (tcp://host:8786): grade on its workers")
    class_parser.add_argument("--sandbox", choices=ISOLATIONS, help="override course.yml's sandbox.isolation")
    class_parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    prepare_parser = commands.add_parser(
        "nbgrader-prepare", help="after `nbgrader collect ID`: give a submission without the notebook the released one",
        description="Copy the released notebook, marked as added, into every nbgrader submission of the "
                    "exercises that holds the module but no notebook, so that `nbgrader autograde` grades "
                    "its module (coursekit/gradebook/missing_notebooks.py).")
    prepare_parser.add_argument("ids", nargs="+", help="exercise ids")
    prepare_parser.add_argument("--course-dir", default=".", metavar="DIR",
                                help="nbgrader's course directory, holding submitted/ (default: here)")
    prepare_parser.add_argument("--release", default=str(paths.ASSIGNMENTS), metavar="DIR",
                                help="the released assignments (default: assignments/)")
    report_parser = commands.add_parser(
        "report", help="the class report and each student's feedback pages, from grade-class's results",
        description="Write GRADES_DIR/report.html (scores, each test's pass rate, the catalogued mistakes the "
                    "class made, what timed out or crashed, grading time) and GRADES_DIR/<student>/feedback.html "
                    "and feedback.md, from the results grade-class wrote there (it writes them itself too).")
    report_parser.add_argument("grades", metavar="GRADES_DIR", help="grade-class's --out folder (grades by default)")
    from coursekit.gradescope import limits
    gradescope_parser = commands.add_parser(
        "gradescope", help="build Gradescope's autograder.zip: one per exercise, or one for all",
        description="Write DIR/<id>/autograder.zip per exercise (or DIR/all/autograder.zip with "
                    "--one-assignment), after checking that the time budgets and the sandbox memory fit "
                    "the assignment's Gradescope settings.")
    gradescope_parser.add_argument("ids", nargs="*", help="exercise ids (default: all)")
    gradescope_parser.add_argument("--out", required=True, metavar="DIR", help="where the zips go")
    gradescope_parser.add_argument("--timeout", type=float, default=limits.DEFAULT_TIMEOUT_SECONDS, metavar="SECONDS",
                                   help="the assignment's timeout on Gradescope (default: Gradescope's, "
                                        f"{limits.DEFAULT_TIMEOUT_SECONDS} s)")
    gradescope_parser.add_argument("--memory", type=int, default=limits.DEFAULT_MEMORY_MB, metavar="MB",
                                   help="the container's memory on Gradescope (default: Gradescope's, "
                                        f"{limits.DEFAULT_MEMORY_MB} MB)")
    gradescope_parser.add_argument("--one-assignment", action="store_true",
                                   help="one Gradescope assignment for every exercise named")
    args = parser.parse_args(argv)

    try:
        course = load_course(args.course)
    except CourseConfigError as error:
        return fail(error)
    problems = course_problems(course, classes=args.command not in ("grade-class", "nbgrader-prepare", "report"))
    if problems:
        return fail_all(f"{course.path.name}: {problem}" for problem in problems)
    if args.command == "check-course":
        print(f"{course.path.name}: {len(course.exercises)} exercises, "
              f"{sum(e.points for e in course.exercises)} points, all consistent")
        return 0
    if args.command == "grade-class":
        return _grade_class(args, course)
    if args.command == "report":
        return _report(args, course)
    unknown = [exercise_id for exercise_id in args.ids if exercise_id not in course.ids]
    if unknown:
        return fail(f"unknown exercise {', '.join(unknown)} (course.yml has {', '.join(course.ids)})")
    if args.command == "gradescope":
        return _gradescope(args, course)
    if args.command == "nbgrader-prepare":
        return _nbgrader_prepare(args, course)
    from coursekit.release import ReleaseError, release
    from coursekit.stubs import SolutionMarkerError
    for exercise_id in args.ids or course.ids:
        try:
            released = release(course.exercise(exercise_id), course_id=course.id)
        except (ReleaseError, SolutionMarkerError) as error:
            return fail(error, code=1)
        print(f"released {exercise_id} -> {released.relative_to(paths.REPO_ROOT)}")
    return 0
