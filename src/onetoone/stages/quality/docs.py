"""Data Docs an auditor can read offline, with each failure's severity.

GX's pages load Bootstrap, jQuery and their table plugin from CDNs, and its index is a table
that only JavaScript fills in: offline it is empty. After every build the pages of the run and
the suites' pages are rewritten to reference no network asset (GX's own stylesheet is already
inlined; ``docs_offline.css``, shipped with this package, is added), and the index is written
as static HTML from ``audit.validation_runs``, the same facts the audit tables hold. GX calls a
suite whose only failures are warnings "Failed"; the pages say which severities failed, and list
the failed checks with severity and why. A failing value whose spaces would be invisible (a
leading, trailing or doubled space) shows them as ``␣``.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

import psycopg

from onetoone.foundation.config import private_file
from onetoone.stages.quality.audit import SuiteRun
from onetoone.stages.quality.masking import VISIBLE_SPACE
from onetoone.stages.quality.report import CheckResult, QualityReport

INDEX_ROWS = 300  # validations listed on the index; every one is in audit.validation_runs
NETWORK_ASSET = re.compile(
    r"""<link\b[^>]*\bhref=["']https?://[^>]*>"""
    r"""|<script\b[^>]*\bsrc=["']https?://[^>]*>\s*</script>"""
    r"""|<img\b[^>]*\bsrc=["']https?://[^>]*>""",
    re.IGNORECASE,
)
NETWORK_URL_IN_CSS = re.compile(r"""url\(\s*["']?https?://[^)]*\)""", re.IGNORECASE)
NEWSLETTER = re.compile(r"<p>Stay current on everything GX.*?</p>", re.DOTALL)
STATUS = re.compile(r'(<span class="h6" >Status:</span>\s*)<i [^>]*></i>\s*(?:Failed|Succeeded)')
CELL_VALUE = re.compile(r'(<div class="show-scrollbars">)([^<]*)(</div>)')
OFFLINE_MARK = "<!-- onetoone: offline -->"


def finish_data_docs(
    conn: psycopg.Connection, docs_root: Path, report: QualityReport,
    suite_runs: Iterable[SuiteRun],
) -> None:
    """Rewrite this run's validation pages and the suite pages for offline reading, and write
    the index (hold ``context.gx_lock`` around it)."""
    for run in suite_runs:
        if run.data_docs_path and Path(run.data_docs_path).is_file():
            checks = [c for c in report.checks if c.suite == run.suite]
            rewrite_page(Path(run.data_docs_path), checks)
    for page in (docs_root / "expectations").rglob("*.html"):
        rewrite_page(page, None)
    write_index(conn, docs_root)


def rewrite_page(page: Path, checks: list[CheckResult] | None) -> None:
    """Drop network assets and add the offline stylesheet; on a validation page (``checks``
    given) also state the severities that failed and list the failed checks."""
    text = page.read_text(encoding="utf-8")
    if OFFLINE_MARK in text:
        return
    text = NEWSLETTER.sub("", NETWORK_URL_IN_CSS.sub("none", NETWORK_ASSET.sub("", text)))
    text = text.replace("</head>", f"{OFFLINE_MARK}<style>{_stylesheet()}</style></head>", 1)
    text = CELL_VALUE.sub(lambda m: m[1] + _visible_spaces(m[2]) + m[3], text)
    if checks is not None:
        text = STATUS.sub(lambda m: m[1] + _status_html(checks), text, count=1)
        text = re.sub(r"(<body[^>]*>)", lambda m: m[1] + _failed_checks_html(checks), text,
                      count=1)
    _write(page, text)


def write_index(conn: psycopg.Connection, docs_root: Path) -> Path:
    """The index: the latest validations, newest first, with their status by severity."""
    rows = conn.execute(
        """select run_id, layer, suite, data_asset, started_at, evaluated, successful,
                  critical_failed, warning_failed, data_docs_path
             from audit.validation_runs
            order by started_at desc, layer, suite
            limit %s""",
        (INDEX_ROWS,),
    ).fetchall()
    lines = []
    for (run_id, layer, suite, asset, started_at, evaluated, successful, critical, warning,
         page) in rows:
        link = _relative_link(docs_root, page)
        name = html.escape(suite)
        suite_cell = f'<a href="{html.escape(link)}">{name}</a>' if link else name
        lines.append(
            "<tr>"
            f"<td>{started_at:%Y-%m-%d %H:%M:%S %Z}</td><td>{html.escape(run_id)}</td>"
            f"<td>{html.escape(layer)}</td>"
            f"<td>{suite_cell}</td>"
            f"<td>{html.escape(asset)}</td>"
            f"<td class=\"{_status_class(critical, warning)}\">"
            f"{html.escape(_status_text(critical, warning))}</td>"
            f"<td>{successful} of {evaluated}</td>"
            "</tr>"
        )
    suites = sorted(
        (path.relative_to(docs_root).as_posix(), path.relative_to(docs_root / "expectations")
         .with_suffix("").as_posix().replace("/", "."))
        for path in (docs_root / "expectations").rglob("*.html")
    )
    body = (
        "<h1>Data quality: validations</h1>"
        "<p>Newest first; the latest " f"{INDEX_ROWS} validations. Every result is also in"
        " <code>audit.validation_runs</code> and <code>audit.expectation_results</code>."
        " <em>critical</em> failures stop a run before marts are published; <em>warning</em>"
        " failures are recorded.</p>"
        "<table class=\"onetoone-index\"><thead><tr><th>run time</th><th>run</th><th>layer</th>"
        "<th>suite</th><th>table</th><th>status</th><th>checks passed</th></tr></thead><tbody>"
        + "".join(lines) + "</tbody></table>"
        "<h2>Expectation suites</h2><ul>"
        + "".join(f'<li><a href="{html.escape(path)}">{html.escape(name)}</a></li>'
                  for path, name in suites)
        + "</ul>"
    )
    index = docs_root / "index.html"
    _write(index, (
        "<!DOCTYPE html><html><head><meta charset=\"UTF-8\">"
        f"<title>Data quality</title>{OFFLINE_MARK}<style>{_stylesheet()}</style></head>"
        f"<body>{body}</body></html>"
    ))
    return index


def _status_text(critical: int, warning: int) -> str:
    if critical:
        text = f"failed: {critical} critical"
        return text + (f", {warning} warning" if warning else "")
    return f"passed with {warning} warning(s)" if warning else "passed"


def _status_class(critical: int, warning: int) -> str:
    return "onetoone-critical" if critical else "onetoone-warning" if warning else "onetoone-ok"


def _status_html(checks: list[CheckResult]) -> str:
    critical = sum(not c.success and c.severity == "critical" for c in checks)
    warning = sum(not c.success and c.severity == "warning" for c in checks)
    return (f'<span class="{_status_class(critical, warning)}">'
            f"{html.escape(_status_text(critical, warning))}</span>")


def _failed_checks_html(checks: list[CheckResult]) -> str:
    failed = sorted((c for c in checks if not c.success),
                    key=lambda c: (c.severity != "critical", c.check_name))
    if not failed:
        return ""
    rows = "".join(
        f'<tr><td class="onetoone-{html.escape(c.severity)}">{html.escape(c.severity)}</td>'
        f"<td>{html.escape(c.check_name)}</td><td>{html.escape(_outcome(c))}</td>"
        f"<td>{html.escape(c.why)}</td></tr>"
        for c in failed
    )
    return (
        '<div class="onetoone-failed"><h2>Failed checks by severity</h2>'
        "<table><thead><tr><th>severity</th><th>check</th><th>seen</th><th>why</th></tr>"
        f"</thead><tbody>{rows}</tbody></table></div>"
    )


def _outcome(check: CheckResult) -> str:
    if check.exception_message:
        return "error while checking"
    if check.unexpected_count is not None:
        return f"{check.unexpected_count} of {check.element_count} rows unexpected"
    return f"observed {check.observed_value}" if check.observed_value is not None else ""


def _visible_spaces(text: str) -> str:
    value = html.unescape(text)
    if value == value.strip() and "  " not in value:
        return text
    return html.escape(re.sub(r"\s", VISIBLE_SPACE, value), quote=False)


def _relative_link(docs_root: Path, page: str | None) -> str | None:
    if not page:
        return None
    path = Path(page)
    if not path.is_relative_to(docs_root):
        return None
    return Path(os.path.relpath(path, docs_root)).as_posix()


def _stylesheet() -> str:
    return files("onetoone.stages.quality").joinpath("docs_offline.css").read_text("utf-8")


def _write(path: Path, text: str) -> None:
    """Replace a page atomically: a browser or a concurrent reader never sees half of it."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    private_file(partial).replace(path)
