"""Grade a class on a Dask cluster: each submission's files travel to a worker, results come back.

Each Dask worker keeps one grading server for the whole run (`GradingServerPlugin`, registered
under a name of this run's own, so two runs on one cluster never stop each other's servers, and
unregistered when the run ends), and grades a submission exactly as a local run does.
"""

import tempfile
import uuid
from dataclasses import asdict
from pathlib import Path

from distributed import Client, WorkerPlugin, as_completed, get_worker

from coursekit.batch.client import GradingServer
from coursekit.batch.records import RecordWriter
from coursekit.batch.runs import ClassOptions, GradingResult, grade_submission
from coursekit.grading.submission import candidate_paths


class GradingServerPlugin(WorkerPlugin):
    """A Dask worker plugin: the worker's grading server for one run, started on its first grading."""

    def __init__(self, options, name):
        self.options = options          # ClassOptions as a dict: plain data travels to the workers
        self.name = name
        self.server = None

    def setup(self, worker):
        self.server = GradingServer(self.options["sandbox"], self.options["course"])

    def teardown(self, worker):
        if self.server is not None:
            self.server.stop()          # for good: a grading still under way fails rather than starts another


def grade_shipped(student, files, options, plugin_name):
    """On a Dask worker: rebuild a student's folder from {relative path: bytes} and grade it with the
    server of the run's plugin."""
    server = get_worker().plugins[plugin_name].server
    with tempfile.TemporaryDirectory(prefix="kit-shipped-") as scratch:
        folder = Path(scratch) / student
        for relative, data in files.items():
            target = folder / relative
            if not target.resolve().is_relative_to(folder.resolve()):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        folder.mkdir(exist_ok=True)
        result = grade_submission(folder, ClassOptions(**options), server)
    return asdict(result)


def shipped_files(folder, course):
    """The files a Dask worker needs to grade a student's folder: each exercise's candidates."""
    files = {}
    for exercise in course.exercises:
        for candidate in candidate_paths(exercise):
            path = Path(folder) / candidate
            if path.is_file():
                files[str(candidate)] = path.read_bytes()
    return files


def run_dask(grading, scheduler, progress):
    """Grade `grading.todo` on the Dask cluster at `scheduler`; record each result as it arrives.
    An interruption cancels the gradings not yet started."""
    options = asdict(grading.options)
    plugin_name = f"coursekit-grading-{grading.fingerprint}-{uuid.uuid4().hex[:8]}"
    with Client(scheduler) as client, RecordWriter(grading, progress) as writer:
        client.register_plugin(GradingServerPlugin(options, plugin_name), name=plugin_name)
        futures = {}
        try:
            futures = {client.submit(grade_shipped, submission.student,
                                     shipped_files(submission.folder, grading.course), options, plugin_name,
                                     key=f"grade-{submission.student}-{plugin_name}", pure=False):
                       submission.student for submission in grading.todo}
            for future in as_completed(futures):
                try:
                    result = GradingResult(**future.result())
                except Exception as error:  # the Dask worker itself failed
                    result = GradingResult(None, "", f"the Dask worker failed: {type(error).__name__}: {error}")
                writer.record(futures[future], result)
        except BaseException:       # Ctrl-C, say: the gradings not yet started are cancelled
            client.cancel(list(futures), force=True)
            raise
        finally:
            client.unregister_worker_plugin(plugin_name)
