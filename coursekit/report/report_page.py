"""grades/report.html: where the class struggles, on one self-contained page for the instructor.

Per exercise: the score histogram; each test's pass rate, worst first, with what it checks (a
table whose bars are drawn by the style sheet); the
catalogued mistakes the students' results match, and how many (ambiguous ones shown as such);
the statuses that are not plain failures and who they hit. For the class: who was not graded,
and the grading time per submission. The figures are PNG data URIs (plots.py), the style is
inline, and the page's Content-Security-Policy forbids any request: it opens offline, anywhere.
"""

import statistics

from coursekit.report import plots
from coursekit.report.page_templates import render

SLOWEST_SHOWN = 5


class ExerciseView:
    """What the page shows of one exercise: its ExerciseSummary's numbers and figures."""

    def __init__(self, summary, catalogued):
        """`catalogued`: the exercise's Mistakes (mistakes.load_mistakes), [] when it has none."""
        self.exercise, self.points = summary.exercise, summary.points
        self.tests, self.unusual, self.not_graded = summary.tests, summary.unusual, summary.not_graded
        self.unexplained, self.catalogued = summary.unexplained, catalogued
        self.scores = [score for _, score in summary.scores]
        self.mean = statistics.fmean(self.scores) if self.scores else 0.0
        self.median = statistics.median(self.scores) if self.scores else 0.0
        self.full_marks = sum(score >= self.points for score in self.scores)
        self.zeros = sum(score == 0 for score in self.scores)
        diagnoses = summary.diagnoses.values()
        self.named = sum(bool(diagnosis.single) for diagnosis in diagnoses)
        self.only_ambiguous = sum(bool(diagnosis.matches) and not diagnosis.single for diagnosis in diagnoses)
        self.graded_on_tests = max((test.graded for test in self.tests), default=0)
        self.known = sorted(summary.matched_students.items(),     # [(Match, [student, ...])], commonest first
                            key=lambda row: (-len(row[1]), row[0].task, row[0].mistakes[0].id))
        matched = {mistake for match, _ in self.known for mistake in match.mistakes}
        self.unmatched = [mistake for mistake in catalogued if mistake not in matched]
        self.histogram = plots.score_histogram(self.scores, self.points) if self.scores else ""


def report_html(course, students, summaries, mistakes):
    """The page's HTML for `students` (class_results.read_class) of `course`; `summaries`: {exercise id:
    ExerciseSummary} (class_results.exercise_summary); `mistakes`: {exercise id: [Mistake]}."""
    views = [ExerciseView(summaries[exercise.id], mistakes.get(exercise.id, [])) for exercise in course.exercises]
    graded = [student for student in students if student.results is not None]
    times = [student.results.get("execution_time", 0.0) for student in graded]
    slowest = sorted(((student.name, student.results.get("execution_time", 0.0)) for student in graded),
                     key=lambda pair: -pair[1])[:SLOWEST_SHOWN]
    return render("report.html.j2", course_id=course.id, students=students, graded=graded,
                  grader_failed=[student for student in students if student.results is None],
                  summaries=views, times=times, slowest=slowest,
                  time_histogram=plots.time_histogram(times) if times else "")
