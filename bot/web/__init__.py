"""What people look at: the preview page (``crosspost preview``) and the dashboard in ``crosspost serve``.

Pages are Jinja2 templates in ``templates/`` beside this file, rendered with autoescape on: article text
is never trusted as HTML.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"


@functools.cache
def environment() -> jinja2.Environment:
    """The one Jinja2 environment for every page (autoescape on for all of them)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
