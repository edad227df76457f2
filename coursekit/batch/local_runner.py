"""Grade a class on this machine: the planned runs, `jobs` at once, in forks of one grading server."""

from concurrent.futures import ThreadPoolExecutor, as_completed

from coursekit.batch.plan import plan
from coursekit.batch.records import RecordWriter
from coursekit.batch.runs import combine, grade_exercises


def run_local(grading, server, jobs, progress):
    """Grade `grading.todo` with `server`, `jobs` runs at once; record each student once all its
    exercises are in. An interruption stops the server for good, so no run starts after it."""
    parts = {submission.student: {} for submission in grading.todo}
    futures = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool, RecordWriter(grading, progress) as writer:
        try:
            for submission, exercises in plan(grading.todo, grading.course.exercises, jobs):
                future = pool.submit(grade_exercises, submission.folder, exercises, grading.options, server)
                futures[future] = (submission.student, tuple(exercise.id for exercise in exercises))
            for future in as_completed(futures):
                student, ids = futures[future]
                parts[student][ids] = future.result()
                if sum(len(done) for done in parts[student]) == len(grading.course.exercises):
                    writer.record(student, combine(grading.course, parts.pop(student)))
        except BaseException:       # Ctrl-C, say: what is recorded stays, the rest is dropped now
            for future in futures:
                future.cancel()
            server.stop()
            raise
