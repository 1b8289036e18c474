"""Renderers: a report dict (see analysis.build_report) in, text out. No analysis here.

Commit subjects, paths and details come from a repository: every renderer shows control
characters escaped (Python's spelling, e.g. \\x1b), so a subject cannot rewrite the terminal
or forge a workflow command. JSON is strict: NaN and infinities become null.
"""

from __future__ import annotations

import json
import math
from typing import Any, List

FORMATS = ("json", "markdown", "github")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def render_json(report: dict) -> str:
    return json.dumps(_finite(report), indent=2, allow_nan=False)


def _printable(text) -> str:
    """Every non-printable character (controls, separators, lone surrogates) escaped."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _md_escape(text) -> str:
    return _printable(str(text).replace("|", "\\|").replace("\n", " "))


def render_markdown(report: dict) -> str:
    s = report["summary"]
    lines: List[str] = [
        "# nam-legacy API audit",
        "",
        f"Repository `{_md_escape(report['repo'])}`, range `{_md_escape(report['range']['spec'])}` "
        f"({report['range']['start'][:7]}..{report['range']['end'][:7]}): "
        f"{s['commits']} commits changed the mirrored API ({s['changes']} changes).",
        "",
    ]
    if report["conformance"] is not None:
        lines += ["## Conformance", "", "| release | ref | status | drift | documented | gated |", "|---|---|---|---|---|---|"]
        for r in report["conformance"]:
            d = r["drifts"]
            lines.append(
                f"| {_md_escape(r['release'])} | {_md_escape(r['ref'] or '—')} | {r['status']} | {sum(x['counts'] for x in d)} "
                f"| {sum(bool(x['documented_by']) for x in d)} | {sum(x['gated'] for x in d)} |"
            )
        lines.append("")
        for r in report["conformance"]:
            open_drifts = [x for x in r["drifts"] if x["counts"]]
            if not open_drifts:
                continue
            lines += [f"### {_md_escape(r['release'])}: {len(open_drifts)} undocumented drifts", ""]
            for x in open_drifts:
                lines.append(f"- `{x['kind']}` {_md_escape(x['path'])} `{_md_escape(x['object'])}`: {_md_escape(x['detail'])}")
            lines.append("")
    if report.get("numeric") is not None:
        lines += ["## Numeric (upstream's code vs nam_legacy, torch.equal)", "", "| release | model | status | detail |", "|---|---|---|---|"]
        for r in report["numeric"]:
            detail = r["detail"] or ("" if r["max_abs_diff"] in (None, 0.0) else f"max |diff| {r['max_abs_diff']:.3g}")
            lines.append(f"| {_md_escape(r['release'])} | {_md_escape(r['model'])} | {r['status']} | {_md_escape(detail)} |")
        lines.append("")
    lines += ["## History", ""]
    for e in report["history"]:
        shipped = f" (first in {_md_escape(e['release'])})" if e.get("release") else ""
        lines.append(f"### {e['sha'][:7]} {e['date'][:10]} {_md_escape(e['subject'])}{shipped}")
        lines.append("")
        for c in e["changes"]:
            obj = f" `{_md_escape(c['object'])}`" if c["object"] else ""
            lines.append(f"- `{c['kind']}` {_md_escape(c['path'])}{obj}: {_md_escape(c['detail'])}")
        lines.append("")
    if s["by_kind"]:
        lines += ["## Changes by kind", "", "| kind | count |", "|---|---|"]
        lines += [f"| {k} | {n} |" for k, n in s["by_kind"].items()]
        lines.append("")
    return "\n".join(lines)


def _gh_data(text: str) -> str:
    # Workflow-command escaping (message data and property values differ), then any other
    # control character made visible.
    return _printable(str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def render_github(report: dict) -> str:
    """`::warning` for each drift that counts (on our file), `::notice` per upstream commit."""
    out: List[str] = []
    for r in report["conformance"] or ():
        for x in r["drifts"]:
            if not x["counts"]:
                continue
            props = [f"file={_gh_prop(x['file'])}"]
            if x["line"]:
                props.append(f"line={x['line']}")
            props.append(f"title={_gh_prop('API drift vs ' + r['release'] + ': ' + x['kind'])}")
            out.append(f"::warning {','.join(props)}::{_gh_data(x['detail'])}")
    for r in report.get("numeric") or ():
        if r["status"] in ("mismatch", "error"):
            title = _gh_prop(f"numeric {r['status']} vs {r['release']}: {r['model']}")
            out.append(f"::warning title={title}::{_gh_data(r['detail'] or 'outputs differ')}")
    for e in report["history"]:
        kinds = sorted({c["kind"] for c in e["changes"]})
        title = _gh_prop(f"upstream {e['sha'][:7]}: {', '.join(kinds)}")
        body = "\n".join(f"{c['path']}: {c['detail']}" for c in e["changes"])
        out.append(f"::notice title={title}::{_gh_data(e['subject'] + chr(10) + body)}")
    return "\n".join(out)


def render(report: dict, fmt: str) -> str:
    return {"json": render_json, "markdown": render_markdown, "github": render_github}[fmt](report)
