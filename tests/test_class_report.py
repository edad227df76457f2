"""The class report and the feedback pages (coursekit/report/) on a class made of the catalogue.

The class: the reference, the untouched stub, and one student per catalogued mistake whose results
are what grading that mutant gives (its signature, which tests/test_mutants.py checks against real
grading of every mutant), plus students whose runs timed out, whose file was missing, whose grader
failed, and one whose name and error message are markup. Their results.json documents are written
by the grader's own code (gradescope_results), the class CSV by grade-class's. Nothing is graded here.
"""

import csv
import json
import re

import pytest

from coursekit import paths
from coursekit.cli import main as coursekit_main
from coursekit.grading.failures import HINT_SEPARATOR
from coursekit.grading.markdown_text import escaped
from coursekit.report.class_results import exercise_summary, read_class
from coursekit.report.mistakes import load_mistakes
from coursekit.report.write import write_report

from made_class import COURSE, TESTS, every_test, results, write_grades

MISTAKES = load_mistakes()
NOT_IMPLEMENTED = "your code raised NotImplementedError: implement this task (at {id}.py, line 10, in task)"
MARKUP = "<script>alert(1)</script>"           # in a failure's reason (the student's own exception message)
NAME_MARKUP = "<img src=x onerror=alert(1)>"    # in a student's folder name


def mutant_student(mistake):
    return f"{mistake.exercise}-{mistake.id}"


def the_class():
    """{student: results or None} for the class described above."""
    students = {"reference": results(),
                "stub": results({exercise_id: every_test(exercise_id, "error in your code",
                                                         NOT_IMPLEMENTED.format(id=exercise_id))
                                 for exercise_id in TESTS}, seconds=3.0),
                "slow": results({"dropout": {TESTS["dropout"][0][0]: ("timed out", "your code took longer than 10 s")}},
                                seconds=60.0),
                "absent": results(set_aside={"batchnorm": "batchnorm.py was not found in the submission"}),
                f"eve{NAME_MARKUP}": results({"batchnorm": {TESTS["batchnorm"][0][0]: ("failed", f"got {MARKUP}")}}),
                "broken": None}
    for mistakes in MISTAKES.values():
        for mistake in mistakes:
            feedback = f"your result differs from the oracle's{HINT_SEPARATOR}look at {mistake.task} again"
            students[mutant_student(mistake)] = results({mistake.exercise: {name: (status, feedback)
                                                                            for name, status in mistake.signature}})
    first = MISTAKES["batchnorm"][0]        # its tests failed, but by raising: not that mistake
    students["raiser"] = results({"batchnorm": {name: ("error in your code", "your code raised ValueError: no")
                                                for name in first.fails}})
    return students


@pytest.fixture(scope="module")
def grades(tmp_path_factory):
    folder = write_grades(tmp_path_factory.mktemp("grades"), the_class())
    return folder, write_report(folder, COURSE)


@pytest.fixture(scope="module")
def summaries(grades):
    students = read_class(grades[0])
    return {exercise.id: exercise_summary(exercise, students, MISTAKES[exercise.id]) for exercise in COURSE.exercises}


def test_every_catalogued_mistake_is_diagnosed_in_its_own_students_results(summaries):
    for exercise_id, mistakes in MISTAKES.items():
        diagnoses = summaries[exercise_id].diagnoses
        for mistake in mistakes:
            matches = diagnoses[mutant_student(mistake)].matches
            assert len(matches) == 1 and mistake in matches[0].mistakes, (mistake.id, matches)


def test_each_known_mistake_counts_the_students_who_made_it_and_shared_signatures_count_together(summaries):
    for exercise_id, mistakes in MISTAKES.items():
        summary = summaries[exercise_id]
        assert sum(map(len, summary.matched_students.values())) == len(mistakes)
        for match, names in summary.matched_students.items():
            students = len(names)
            same_signature = [mistake for mistake in mistakes if mistake.signature == match.mistakes[0].signature]
            assert list(match.mistakes) == same_signature and students == len(same_signature)
            assert match.ambiguous == (len(same_signature) > 1 or match.whole_task)


def test_the_reference_the_stub_and_other_failures_are_not_diagnosed(summaries):
    for summary in summaries.values():
        assert not summary.diagnoses["reference"].matches and not summary.diagnoses["stub"].matches
        assert "stub" in summary.unexplained and "reference" not in summary.unexplained
    assert not summaries["batchnorm"].diagnoses["raiser"].matches and "raiser" in summaries["batchnorm"].unexplained
    assert not summaries["dropout"].diagnoses["slow"].matches


def test_pass_rates_are_over_the_students_graded_on_the_exercise_worst_first(summaries):
    summary = summaries["batchnorm"]
    graded = len(summary.scores) - len(summary.not_graded)
    assert summary.not_graded == {"absent": "missing"}
    assert all(rate.graded == graded for rate in summary.tests)
    assert [rate.rate for rate in summary.tests] == sorted(rate.rate for rate in summary.tests)
    first = TESTS["batchnorm"][0][0]
    raiser = first in MISTAKES["batchnorm"][0].fails
    failing = 1 + 1 + raiser + sum(first in mistake.fails for mistake in MISTAKES["batchnorm"])  # stub, eve, ...
    assert next(rate for rate in summary.tests if rate.name == first).passed == graded - failing


def test_the_report_names_what_is_not_a_plain_failure_and_who_was_not_graded(grades, summaries):
    folder, written = grades
    assert summaries["dropout"].unusual == {"timed out": ["slow"]}
    html = written.report.read_text()
    assert re.search(r"<td>timed out</td><td>slow</td>", html)
    assert re.search(r"<td>not graded: missing</td><td>absent</td>", html)
    assert re.search(r"<td>broken</td><td>grader failed: the grading run died</td>", html)
    assert "slow (60.0 s)" in html


def test_the_report_lists_each_mistake_with_its_count_and_ambiguous_signatures_as_such(grades, summaries):
    html = grades[1].report.read_text()
    rows = sum(len(summary.matched_students) for summary in summaries.values())
    ambiguous = sum(match.ambiguous for summary in summaries.values() for match in summary.matched_students)
    assert html.count("<strong>ambiguous</strong>") == ambiguous and 0 < ambiguous < rows
    rows = html.split("<tr")
    for summary in summaries.values():
        for match, names in summary.matched_students.items():
            students = len(names)
            ids = [f"({mistake.id})" for mistake in match.mistakes]
            row = next(row for row in rows if all(id in row for id in ids) and "<details>" in row)
            assert row.startswith(f' class="{"ambiguous" if match.ambiguous else ""}"><td class="number">{students}<')
            assert f"<td><code>{match.task}</code></td>" in row
    assert "other catalogued mistake(s), which no student" not in html     # the class made every mistake


def test_a_feedback_page_names_a_mistake_only_when_one_alone_matches(grades, summaries):
    folder, _ = grades
    for exercise_id, mistakes in MISTAKES.items():
        for mistake in mistakes:
            markdown = (folder / mutant_student(mistake) / "feedback.md").read_text()
            match = summaries[exercise_id].diagnoses[mutant_student(mistake)].matches[0]
            named = f"your results match a common mistake: {escaped(mistake.description)}" in markdown
            assert named == (not match.ambiguous), mistake.id
            assert ("common mistake" in markdown) == named
    assert "common mistake" not in (folder / "stub" / "feedback.md").read_text()


def test_a_feedback_page_gives_each_lost_point_in_exercise_order_with_what_was_checked_and_the_hint(grades):
    mistake = MISTAKES["batchnorm"][0]
    page = (grades[0] / mutant_student(mistake) / "feedback.html").read_text()
    failed = [(name, description) for name, _, _, description in TESTS["batchnorm"] if name in mistake.fails]
    positions = [page.index(escape_html(description)) for _, description in failed]
    assert positions == sorted(positions) and len(failed) == len(mistake.fails)
    assert page.count("your result differs from the oracle&#39;s") == len(failed)
    assert page.count(f"<strong>Hint:</strong> look at {mistake.task} again") == len(failed)
    points = {exercise.id: exercise.points for exercise in COURSE.exercises}
    assert f"batchnorm: {points['batchnorm']} of" not in page and f"dropout: {points['dropout']} of" in page


def escape_html(text):
    """As Jinja2's autoescape writes `text` (markupsafe.escape)."""
    for character, reference in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&#34;"), ("'", "&#39;")):
        text = text.replace(character, reference)
    return text


def test_student_text_is_shown_as_text_and_the_pages_make_no_request(grades):
    folder, written = grades
    student = folder / f"eve{NAME_MARKUP}"
    for page in (written.report, student / "feedback.html"):
        html = page.read_text()
        assert NAME_MARKUP not in html and "eve&lt;img src=x onerror=alert(1)&gt;" in html
    html = (student / "feedback.html").read_text()
    assert MARKUP not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for page in (written.report, student / "feedback.html"):
        html = page.read_text()
        assert "Content-Security-Policy" in html and "default-src 'none'" in html
        assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert f"got {MARKUP}" in (student / "feedback.md").read_text()     # inside a code block: shown literally
    assert "    got <script>" in (student / "feedback.md").read_text()


def test_only_graded_students_get_feedback_pages_and_a_failed_regrade_leaves_none_behind(grades, tmp_path):
    folder, written = grades
    assert not (folder / "broken" / "feedback.html").exists()
    assert written.feedback_pages == len(read_class(folder)) - 1
    regraded = write_grades(tmp_path, {"ada": results()})
    write_report(regraded, COURSE)
    (regraded / "ada" / "results.json").unlink()            # the regrade failed on ada
    write_report(regraded, COURSE)
    assert not (regraded / "ada" / "feedback.html").exists() and not (regraded / "ada" / "feedback.md").exists()


def test_the_report_command_writes_the_report_and_refuses_a_folder_that_is_not_a_grading(tmp_path, capsys):
    folder = write_grades(tmp_path / "grades", {"ada": results(), "bo": None})
    assert coursekit_main(["report", str(folder)]) == 0
    assert (folder / "report.html").exists() and (folder / "ada" / "feedback.html").exists()
    assert f"class report: {folder / 'report.html'}; feedback pages for 1 student(s)" in capsys.readouterr().out
    assert coursekit_main(["report", str(tmp_path)]) == 2
    assert "grades.csv does not exist: give the folder grade-class wrote" in capsys.readouterr().err
    (tmp_path / "grades.csv").write_text("name,score\nada,3\n")
    assert coursekit_main(["report", str(tmp_path)]) == 2
    assert "not a class CSV written by grade-class" in capsys.readouterr().err


def test_the_class_csv_rows_are_read_in_order_with_their_status(grades):
    students = read_class(grades[0])
    with open(grades[0] / "grades.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))[1:]
    assert [student.name for student in students] == [row["student"] for row in rows]
    assert next(student for student in students if student.name == "broken").results is None


def test_an_exercise_whose_tests_partly_did_not_run_shows_each_lost_point_with_its_reason(tmp_path):
    name, *_ = TESTS["dropout"][-1]
    folder = write_grades(tmp_path, {"ada": results({"dropout": {name: ("not graded", "this test did not run")}})})
    write_report(folder, COURSE)
    markdown = (folder / "ada" / "feedback.md").read_text()
    dropout = markdown.split("## dropout")[1].split("## ")[0]
    assert "Every test passed" not in dropout and "    this test did not run" in dropout
    assert "not graded" in dropout and "Not graded: your code was not run" not in dropout


def test_results_written_before_reasons_and_hints_were_kept_as_data_give_the_same_pages(tmp_path):
    feedback = f"expected 1.0, got 2.0{HINT_SEPARATOR}divide by n, not n - 1: *biased* [variance]"
    document = results({"batchnorm": {TESTS["batchnorm"][0][0]: ("failed", feedback)}})
    older = json.loads(json.dumps(document))
    for test in older["tests"]:
        test["extra_data"].pop("reason", None)
        test["extra_data"].pop("hint", None)
    del older["extra_data"]["exercises"]
    pages = []
    for student, version in (("now", document), ("before", older)):
        folder = write_grades(tmp_path / student, {"ada": version})
        write_report(folder, COURSE)
        pages.append((folder / "ada" / "feedback.md").read_text())
    assert pages[0] == pages[1] and "**Hint:** divide by n, not n - 1: \\*biased\\* \\[variance\\]" in pages[0]


@pytest.mark.parametrize("broken", ["{}", '{"score": 1, "max_score": 2, "tests": [{"name": "x"}]}', "[1, 2]",
                                    '{"score": 1, "max_score": 2, "tests": [{"name": "x", "tags": [], "score": 0,'
                                    ' "max_score": 1, "extra_data": {"test": "t"}}]}'])
def test_a_results_json_that_grading_did_not_write_counts_as_the_grader_failing(tmp_path, broken):
    folder = write_grades(tmp_path, {"ada": results(), "bo": results()})
    (folder / "bo" / "results.json").write_text(broken)
    written = write_report(folder, COURSE)
    bo = next(student for student in read_class(folder) if student.name == "bo")
    assert bo.results is None and bo.status == "grader failed: its results.json is missing or unreadable"
    assert written.feedback_pages == 1 and "<td>bo</td><td>grader failed:" in written.report.read_text()


def test_the_style_sheet_reaches_the_page_as_written(grades):
    folder, written = grades
    style = (paths.REPO_ROOT / "coursekit" / "report" / "templates" / "style.css.j2").read_text()
    for page in (written.report, folder / "reference" / "feedback.html"):
        assert style in page.read_text() and '"Segoe UI"' in style
