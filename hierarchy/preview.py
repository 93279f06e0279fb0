"""Show token masks: target tokens red, preserve tokens green, in the terminal (rich) and as HTML."""

from __future__ import annotations

import html
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.text import Text

from ontology.common.outputs import OutputKind, read_head

GENERATOR = "<meta name='generator' content='medunlearn masks preview'>"

#: ``hierarchy masks preview --html FILE``: a page this command wrote is replaced, anything else refused
PREVIEW_OUTPUT = OutputKind(
    "a masks preview page",
    False,
    "its generator meta tag",
    lambda p: GENERATOR.encode() in read_head(Path(p), 4096),
)

ROLE_STYLE = {1: "bold green", 2: "bold red"}
ROLE_CSS = {1: "background:#c8f7c5;color:#1b5e20", 2: "background:#ffcdd2;color:#b71c1c"}


def segments(text: str, offsets: list[list[int]], roles: list[int]) -> Iterator[tuple[str, int]]:
    """``(piece, role)`` covering ``text`` in order; text outside any token has role 0.

    Examples
    --------
    >>> list(segments("an anxiety", [[0, 2], [3, 10]], [0, 2]))
    [('an', 0), (' ', 0), ('anxiety', 2)]
    """
    pos = 0
    for (s, e), role in sorted(zip((tuple(o) for o in offsets), roles, strict=True)):
        if e <= s or e <= pos:
            continue
        s = max(s, pos)
        if s > pos:
            yield text[pos:s], 0
        yield text[s:e], int(role)
        pos = e
    if pos < len(text):
        yield text[pos:], 0


def _rows(table: pa.Table, n: int) -> list[dict[str, Any]]:
    cols = ["doc_id", "text", "offsets", "role"]
    return table.select(cols).slice(0, n).to_pylist()


def _counts(roles: list[int]) -> str:
    return f"target {roles.count(2)} · preserve {roles.count(1)} · neutral {roles.count(0)} tokens"


def show_terminal(table: pa.Table, meta: dict[str, str], n: int = 3, console: Console | None = None) -> None:
    """Print ``n`` documents with coloured tokens and a legend."""
    console = console or Console()
    console.print(
        f"[bold]{meta.get('tokenizer_name', '?')}[/] scope [bold]{meta.get('scope', '?')}[/]  "
        "legend: [bold red]target[/] [bold green]preserve[/] neutral"
    )
    for row in _rows(table, n):
        console.rule(f"{row['doc_id']} — {_counts(row['role'])}")
        out = Text()
        for piece, role in segments(row["text"], row["offsets"], row["role"]):
            out.append(piece, style=ROLE_STYLE.get(role, ""))
        console.print(out)


def to_html(table: pa.Table, meta: dict[str, str], n: int = 3) -> str:
    """A standalone HTML page with ``n`` documents, target tokens red and preserve tokens green."""
    title = f"Token masks — {meta.get('tokenizer_name', '?')}, scope {meta.get('scope', '?')}"
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'>{GENERATOR}",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}"
        "pre{white-space:pre-wrap;font-family:monospace;border:1px solid #ddd;padding:1em}"
        "span.t{border-radius:2px}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Legend: <span style='{ROLE_CSS[2]}'>target</span> <span style='{ROLE_CSS[1]}'>preserve</span> "
        "neutral. Config hash " + html.escape(meta.get("config_hash", "?")) + ".</p>",
    ]
    for row in _rows(table, n):
        parts.append(f"<h2>{html.escape(str(row['doc_id']))}</h2><p>{_counts(row['role'])}</p><pre>")
        for piece, role in segments(row["text"], row["offsets"], row["role"]):
            esc = html.escape(piece)
            parts.append(
                f"<span class='t' style='{ROLE_CSS[role]}'>{esc}</span>" if role in ROLE_CSS else esc
            )
        parts.append("</pre>")
    parts.append("</body></html>\n")
    return "".join(parts)
