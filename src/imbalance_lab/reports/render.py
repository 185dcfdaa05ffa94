"""Templates (templates/*.html, *.md) and the pieces they embed.

HTML templates escape every value they insert (Jinja2 autoescape), so class names,
paths and config values from the user or the data reach the page as text, never as
markup. Markdown templates insert values as they are. A figure or a download is
embedded as a ``data:`` URI, so a page is one file that needs no other.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path

import markdown
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from imbalance_lab.reports.tables import Table

NUMERIC = re.compile(r"[-+]?[\d.]+( ± .*)?|–")  # a cell shown right-aligned


@dataclass(frozen=True)
class Figure:
    uri: str  # data:image/png;base64,...
    caption: str


@dataclass(frozen=True)
class Download:
    name: str  # the file name the browser saves it as
    uri: str  # data:text/csv;base64,...


def figure(path: Path, caption: str) -> Figure:
    return Figure(data_uri("image/png", Path(path).read_bytes()), caption)


def csv_download(name: str, text: str) -> Download:
    return Download(name, data_uri("text/csv", text.encode()))


def data_uri(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def render(template: str, **context) -> str:
    return ENV.get_template(template).render(**context)


def render_html(template: str, **context) -> Markup:
    """A piece of a page, already escaped: another template inserts it as it is."""
    return Markup(render(template, **context))


def _markdown_row(cells: list) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


ENV = Environment(
    loader=PackageLoader("imbalance_lab.reports"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
ENV.filters["md_row"] = _markdown_row
# Only for prose this package ships (templates/**/*.md), never for text from a run.
ENV.filters["markdown"] = lambda text: Markup(markdown.markdown(text))
ENV.tests["figure"] = lambda item: isinstance(item, Figure)
ENV.tests["table"] = lambda item: isinstance(item, Table)
ENV.tests["numeric"] = lambda text: NUMERIC.fullmatch(str(text)) is not None
