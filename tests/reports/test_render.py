"""Templates: HTML pieces escape what they insert; Markdown tables keep their columns."""

from __future__ import annotations

import base64
import re

from jinja2 import ChoiceLoader, DictLoader

from imbalance_lab.reports.render import ENV, Figure, data_uri, render_html
from imbalance_lab.reports.tables import Table

ATTACK = '"><script>alert(1)</script>'


def test_notes_tables_and_figures_escape_their_text():
    html = render_html(
        "sections/items.html",
        items=[
            ATTACK,
            Table([ATTACK], [[ATTACK, "0.5"]]),
            Figure("data:image/png;base64,AA", ATTACK),
        ],
    )
    assert "<script>" not in html and '"><script' not in html
    assert html.count("&lt;script&gt;") == 5  # the note, the header, the cell, alt and caption
    assert '<td class="num">0.5</td>' in html  # numbers are right-aligned, text is not
    assert re.search(r"<td>&#34;&gt;&lt;script", html)


def test_a_data_uri_holds_the_bytes():
    uri = data_uri("text/csv", b"a,b\n1,2\n")
    assert uri.startswith("data:text/csv;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == b"a,b\n1,2\n"


def test_markdown_tables_escape_the_column_separator():
    env = ENV.overlay(
        loader=ChoiceLoader(
            [DictLoader({"t.md": '{% import "macros.md" as m %}{{ m.table(t) }}'}), ENV.loader]
        )
    )
    text = env.get_template("t.md").render(t=Table(["a", "b|c"], [["<x>", "1 | 2"]]))
    assert text == "| a | b\\|c |\n|---|---|\n| <x> | 1 \\| 2 |"
