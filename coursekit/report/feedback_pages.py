"""A student's feedback page: per exercise, the score and each lost point, in the exercise's order.

    grades/<student>/feedback.html   to hand out or upload
    grades/<student>/feedback.md     the same in Markdown, for an LMS comment box

Each lost point says what the test checks (its student-facing description), what went wrong
(the failure's reason, as the grader wrote it) and the hint; where a task's results match exactly
one catalogued mistake, the page says so with the mistake's description. Nothing else of the
hidden graders is shown: the page holds what results.json holds.
"""

from dataclasses import dataclass, field

from coursekit.batch.status import failure_reason, not_graded_exercises
from coursekit.grading.markdown_text import code_block, code_span, escaped
from coursekit.report.mistakes import diagnose
from coursekit.report.page_templates import render


@dataclass(frozen=True)
class LostPoint:
    where: str
    description: str
    lost: float
    max_score: float
    status: str
    reason: str
    hint: str


@dataclass
class ExerciseFeedback:
    id: str
    score: float
    points: float
    not_graded: str = ""                                # the reason, when the exercise was not graded
    mistakes: list = field(default_factory=list)        # Mistakes each alone matching a task's results
    lost: list = field(default_factory=list)            # LostPoints, in the exercise's order


@dataclass
class FeedbackPage:
    student: str
    score: float
    max_score: float
    late: str
    exercises: list


def _lost_point(test):
    data = test.get("extra_data", {})
    where = test["tags"][-1]
    return LostPoint(where, test["name"].removeprefix(f"{where}: "), test["max_score"] - test["score"],
                     test["max_score"], data.get("status", test["status"]), failure_reason(test), data.get("hint", ""))


def feedback_page(student, course, mistakes):
    """The FeedbackPage of one graded class_results.Student; `mistakes`: {exercise id: [Mistake]}."""
    results = student.results
    not_graded = not_graded_exercises(results)
    exercises = []
    for exercise in course.exercises:
        tests = student.tests(exercise.id)
        feedback = ExerciseFeedback(exercise.id, student.exercise(exercise.id).get("score", 0.0), exercise.points)
        if exercise.id in not_graded or not tests:
            feedback.not_graded = failure_reason(tests[0]) if tests else "no results for this exercise"
        else:
            diagnosis = diagnose(results, exercise.id, mistakes.get(exercise.id, []))
            feedback.mistakes = diagnosis.single if diagnosis else []
            feedback.lost = [_lost_point(test) for test in tests if test["score"] < test["max_score"]]
        exercises.append(feedback)
    return FeedbackPage(student.name, results["score"], results["max_score"], student.late, exercises)


def feedback_html(page, course_id):
    return render("feedback.html.j2", page=page, course_id=course_id)


def _points(value):
    return f"{round(value, 2):g}"


def feedback_markdown(page, course_id):
    """The page in Markdown: what the grader wrote shown literally (markdown_text.py)."""
    blocks = [f"# Feedback for {escaped(page.student)}",
              f"{escaped(course_id)}: **{_points(page.score)} of {_points(page.max_score)} points**."
              + (f" Handed in late: {escaped(page.late)}." if page.late else "")]
    for exercise in page.exercises:
        blocks.append(f"## {escaped(exercise.id)}: {_points(exercise.score)} of {_points(exercise.points)} points")
        if exercise.not_graded:
            blocks += ["Not graded: your code was not run, so every test of this exercise scored 0.",
                       code_block(exercise.not_graded)]
        elif not exercise.lost:
            blocks.append("Every test passed.")
        blocks += [f"In {code_span(mistake.task)}, your results match a common mistake: {escaped(mistake.description)}"
                   for mistake in exercise.mistakes]
        for lost in exercise.lost:
            blocks += [f"**{code_span(lost.where)}: {escaped(lost.description)}** (lost {_points(lost.lost)} of "
                       f"{_points(lost.max_score)} point(s); {escaped(lost.status)})", code_block(lost.reason)]
            if lost.hint:
                blocks.append(f"**Hint:** {escaped(lost.hint)}")
    return "\n\n".join(block for block in blocks if block) + "\n"
