"""Small HTML building blocks shared by the report page's sections."""

from __future__ import annotations

from html import escape
from typing import Any

CSS = """
:root { --pass:#d8f0d2; --fail:#f8d0d0; --warn:#fbeec0; --info:#d6e6f7; --na:#e8e8e8; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       color:#1d1d1d; margin:0 auto; max-width:1180px; padding:0 24px 48px; }
h1 { margin:24px 0 4px; font-size:1.7em; }
h2 { margin-top:40px; padding-bottom:4px; border-bottom:2px solid #ddd; }
h3 { margin-top:26px; }
nav ol { columns:2; margin:8px 0; }
table { border-collapse:collapse; margin:8px 0 16px; font-size:13.5px; }
th, td { border:1px solid #d0d0d0; padding:4px 8px; text-align:left; vertical-align:top; }
th { background:#f3f3f3; }
td.num { text-align:right; font-variant-numeric: tabular-nums; white-space:nowrap; }
.badge { display:inline-block; padding:2px 10px; border-radius:4px; font-weight:600; }
.PASS, .pass { background:var(--pass); }
.FAIL, .fail { background:var(--fail); }
.NON-STRICT { background:var(--warn); }
.INFORMATIONAL { background:var(--info); }
.UNSUPPORTED, .missing { background:var(--na); color:#555; }
.over { background:var(--warn); }
p.headline { font-size:1.1em; background:#f6f8fa; border-left:4px solid #1f4e79; padding:8px 12px; }
figure { margin:18px 0 28px; }
figure img { max-width:100%; height:auto; border:1px solid #eee; }
figcaption { font-size:13px; color:#444; max-width:900px; }
pre { background:#f6f8fa; padding:8px; overflow-x:auto; font-size:12.5px; max-height:420px; }
details { margin:6px 0 14px; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:2px 16px; }
dl.facts dt { font-weight:600; }
dl.facts dd { margin:0; }
tr.group th { background:#e9eef5; text-align:left; }
"""


def badge(passed: bool) -> str:
    css, word = ("pass", "PASSED") if passed else ("fail", "FAILED")
    return f'<span class="badge {css}">{word}</span>'


def table(headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def facts(items: list[tuple[str, Any]]) -> str:
    inner = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in items)
    return f'<dl class="facts">{inner}</dl>'
