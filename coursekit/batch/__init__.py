"""Grading a whole class: find the submissions, grade them in parallel, write results and a CSV."""
