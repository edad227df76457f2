"""The Jinja2 environment the report's pages are rendered with (templates/), escaping every value.

Every text a page shows may come from a student (a folder name, an exception message quoted in a
failure's reason), so HTML autoescaping is on for every template; the pages also forbid every
network request in their Content-Security-Policy.
"""

import statistics
from pathlib import Path

import jinja2
from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"


def points_text(value):
    """A score as the pages print it: 74, 73.5, 0.33."""
    return f"{round(value, 2):g}"


def _seconds(value):
    return f"{value:.1f} s"


ENVIRONMENT = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                                 undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                 keep_trailing_newline=True)
ENVIRONMENT.filters.update(points=points_text, seconds=_seconds, median=statistics.median)


def render(name, **context):
    """Render templates/<name> with the shared style sheet."""
    style = Markup((TEMPLATES / "style.css.j2").read_text(encoding="utf-8"))     # the kit's own text: not escaped
    return ENVIRONMENT.get_template(name).render(style=style, **context)
