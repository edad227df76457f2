"""Write the class report and every graded student's feedback pages from a grading folder.

    python -m coursekit report GRADES_DIR      (grade-class does it at the end of every run)
"""

from dataclasses import dataclass
from pathlib import Path

from coursekit.atomic_write import write_atomically
from coursekit.report.class_results import exercise_summary, read_class
from coursekit.report.feedback_pages import feedback_html, feedback_markdown, feedback_page
from coursekit.report.mistakes import load_mistakes
from coursekit.report.report_page import report_html

REPORT_NAME, FEEDBACK_HTML, FEEDBACK_MARKDOWN = "report.html", "feedback.html", "feedback.md"


@dataclass(frozen=True)
class WrittenReport:
    report: Path
    feedback_pages: int


def write_report(grades_dir, course, mistakes=None):
    """Write GRADES_DIR/report.html and <student>/feedback.html and feedback.md for each graded student
    (and remove those of a student the grader failed on, left from an earlier run).

    `mistakes`: {exercise id: [Mistake]}, default the kit's catalogue (mistakes.load_mistakes).
    Raises class_results.ReportError when GRADES_DIR is not a grading folder.
    """
    grades_dir = Path(grades_dir)
    mistakes = load_mistakes() if mistakes is None else mistakes
    students = read_class(grades_dir)
    summaries = {exercise.id: exercise_summary(exercise, students, mistakes.get(exercise.id, []))
                 for exercise in course.exercises}
    for student in students:
        folder = grades_dir / student.name
        if student.results is None:         # the grader failed: no page, and none left from an earlier run
            for name in (FEEDBACK_HTML, FEEDBACK_MARKDOWN):
                (folder / name).unlink(missing_ok=True)
            continue
        page = feedback_page(student, course, summaries)
        write_atomically(folder / FEEDBACK_HTML, feedback_html(page, course.id))
        write_atomically(folder / FEEDBACK_MARKDOWN, feedback_markdown(page, course.id))
    report = grades_dir / REPORT_NAME
    write_atomically(report, report_html(course, students, summaries, mistakes))
    return WrittenReport(report, sum(student.results is not None for student in students))
