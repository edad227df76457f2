"""A student's feedback page: per exercise, the score and each lost point, in the exercise's order.

    grades/<student>/feedback.html   to hand out or upload
    grades/<student>/feedback.md     the same in Markdown, for an LMS comment box

Each lost point says what the test checks (its student-facing description), what went wrong
(the failure's reason, as the grader wrote it) and the hint; where a task's results match exactly
one catalogued mistake, the page says so with the mistake's description. Nothing else of the
hidden graders is shown: the page holds what results.json holds.
"""

from dataclasses import dataclass, field

from coursekit.batch.status import NOT_GRADED, failure_reason
from coursekit.grading.gradescope_output import feedback_hint
from coursekit.grading.markdown_text import code_block, code_span, escaped
from coursekit.report.class_results import description_of_test
from coursekit.report.mistakes import lost_points, status_of_test
from coursekit.report.page_templates import points_text, render


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


def _hint(test):
    """A failed test's hint: extra_data's, or, in results written before it was kept there, the Markdown's."""
    hint = test.get("extra_data", {}).get("hint")
    return hint if hint is not None else feedback_hint(test.get("output", ""))


def _lost_point(test):
    return LostPoint(test["tags"][-1], description_of_test(test), test["max_score"] - test["score"],
                     test["max_score"], status_of_test(test), failure_reason(test), _hint(test))


def _exercise_feedback(student, exercise, diagnosis):
    tests = student.tests(exercise.id)
    feedback = ExerciseFeedback(exercise.id, student.score(exercise.id), exercise.points)
    if not tests:
        feedback.not_graded = "no results for this exercise"
    elif all(status_of_test(test) == NOT_GRADED for test in tests):
        feedback.not_graded = failure_reason(tests[0])          # set aside, or its module did not import
    else:                       # every test ran (or some did not: each is a lost point, with its reason)
        feedback.mistakes = diagnosis.single if diagnosis else []
        feedback.lost = [_lost_point(test) for test in tests if lost_points(test)]
    return feedback


def feedback_page(student, course, summaries):
    """The FeedbackPage of one graded class_results.Student; `summaries`: {exercise id: ExerciseSummary},
    whose diagnoses of the student (none where an exercise was not wholly graded) the page names."""
    exercises = [_exercise_feedback(student, exercise, summaries[exercise.id].diagnoses.get(student.name))
                 for exercise in course.exercises]
    return FeedbackPage(student.name, student.results["score"], student.results["max_score"], student.late,
                        exercises)


def feedback_html(page, course_id):
    return render("feedback.html.j2", page=page, course_id=course_id)


def feedback_markdown(page, course_id):
    """The page in Markdown: what the grader wrote shown literally (markdown_text.py)."""
    blocks = [f"# Feedback for {escaped(page.student)}",
              f"{escaped(course_id)}: **{points_text(page.score)} of {points_text(page.max_score)} points**."
              + (f" Handed in late: {escaped(page.late)}." if page.late else "")]
    for exercise in page.exercises:
        score = f"{points_text(exercise.score)} of {points_text(exercise.points)} points"
        blocks.append(f"## {escaped(exercise.id)}: {score}")
        if exercise.not_graded:
            blocks += ["Not graded: your code was not run, so every test of this exercise scored 0.",
                       code_block(exercise.not_graded)]
        elif not exercise.lost:
            blocks.append("Every test passed.")
        else:
            blocks += [f"In {code_span(mistake.task)}, your results match a common mistake: "
                       f"{escaped(mistake.description)}" for mistake in exercise.mistakes]
        for lost in exercise.lost:
            blocks += [f"**{code_span(lost.where)}: {escaped(lost.description)}** (lost {points_text(lost.lost)} of "
                       f"{points_text(lost.max_score)} point(s); {escaped(lost.status)})", code_block(lost.reason)]
            if lost.hint:
                blocks.append(f"**Hint:** {escaped(lost.hint)}")
    return "\n\n".join(block for block in blocks if block) + "\n"
