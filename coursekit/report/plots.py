"""The class report's figures, drawn with matplotlib and embedded in the page as PNG data URIs.

A data URI keeps report.html one file that opens offline; PNG, unlike inline SVG, cannot clash
with the page's other figures (matplotlib's SVG element ids) and looks the same in every browser.
Figures are drawn with the Agg backend and no timestamp, so the same class gives the same bytes.
"""

import base64
import io
import math

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

BAR_COLOUR = "#3a6ea5"      # every figure's bars: the report's screenshot check looks for this colour
WIDTH_INCHES, DPI = 6.4, 100


def _png_data_uri(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(height):
    figure = Figure(figsize=(WIDTH_INCHES, height), layout="constrained")
    return figure, figure.add_subplot()


def score_histogram(scores, points):
    """A histogram of one exercise's scores (0 .. points), as a PNG data URI."""
    figure, axes = _figure(2.6)
    bins = min(20, max(1, math.ceil(points)))
    axes.hist(scores, bins=bins, range=(0, points), color=BAR_COLOUR, edgecolor="white")
    axes.set_xlim(0, points)
    axes.set_xlabel(f"score (of {points:g} points)")
    axes.set_ylabel("students")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return _png_data_uri(figure)


def time_histogram(seconds):
    """A histogram of grading time per submission, in seconds, as a PNG data URI."""
    figure, axes = _figure(2.4)
    axes.hist(seconds, bins=min(20, max(1, len(seconds))), color=BAR_COLOUR, edgecolor="white")
    axes.set_xlabel("grading time per submission (s)")
    axes.set_ylabel("submissions")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return _png_data_uri(figure)
