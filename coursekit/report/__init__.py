"""The class report: what a graded class got right and wrong, and each student's feedback page.

    mistakes.py        the catalogued mistakes' signatures, and which ones a student's results match
    class_results.py   a grading folder read back (grades.csv, each results.json); one summary per exercise
    page_templates.py  the Jinja2 environment (HTML escaping on) the pages are rendered with
    plots.py           the report's figures (matplotlib), as PNG data URIs
    report_page.py     grades/report.html: one self-contained page for the instructor
    feedback_pages.py  grades/<student>/feedback.html and feedback.md: one page per student
    write.py           all of them at once (grade-class, and `python -m coursekit report GRADES_DIR`)
"""
