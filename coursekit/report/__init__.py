"""The class report: what a graded class got right and wrong, and each student's feedback page.

    mistakes.py        the catalogued mistakes' signatures, and which ones a student's results match
    class_results.py   a grading folder's results.json files, read into one summary per exercise
    plots.py           the report's figures (matplotlib), as inline SVG
    report_page.py     grades/report.html: one self-contained page for the instructor
    feedback_pages.py  grades/<student>/feedback.html and feedback.md: one page per student
    write.py           all of them at once (grade-class, and `python -m coursekit report GRADES_DIR`)
"""
