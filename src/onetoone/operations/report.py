"""The run report: one self-contained HTML page (plotly's script inline, so it opens offline)
with the pictures people would rather look at than query: the value pyramid, tier migrations,
portfolio KPIs, the quality pass rate over runs, and identity's cluster sizes and match weights.

It reads only aggregates: the published marts, the audit trail, identity's keys and the latest
scored pairs. No personal value reaches the page."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import psycopg

from onetoone.foundation.config import paths, private_dir, private_file
from onetoone.stages.identity.store import current_scored_pairs

TIER_ORDER = ("MVC", "MGC", "BZ")

_QUERIES = {
    "tiers": """
        select value_tier, count(*) as customers,
               sum(actual_value) as actual_value, sum(strategic_value) as strategic_value
        from marts.mart_customer_value group by value_tier""",
    "migrations": """
        select from_value_tier, to_value_tier, sum(customers) as customers
        from marts.mart_tier_migrations group by 1, 2""",
    "portfolios": """
        select portfolio_id, coalesce(manager_name, '(unassigned)') as manager_name, customers,
               actual_value_total, strategic_value_total, churn_risk_avg
        from marts.mart_portfolio_kpis order by actual_value_total desc nulls last""",
    "quality": """
        select as_of, layer, sum(checks_passed)::float / nullif(sum(checks), 0) as pass_rate
        from marts.mart_quality_summary group by 1, 2 order by 1, 2""",
    "clusters": """
        select cluster_size as records_per_customer, count(distinct customer_key) as customers
        from identity.customer_keys group by 1 order by 1""",
}


@dataclass
class ReportData:
    """What the report draws, as read from the warehouse (empty frames where nothing is yet)."""

    tiers: pd.DataFrame
    migrations: pd.DataFrame
    portfolios: pd.DataFrame
    quality: pd.DataFrame
    clusters: pd.DataFrame
    match_weights: pd.Series
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))


def read_report_data(conn: psycopg.Connection) -> ReportData:
    frames = {}
    for name, query in _QUERIES.items():
        try:
            with conn.transaction():
                cursor = conn.execute(query)
                frames[name] = pd.DataFrame(cursor.fetchall(),
                                            columns=[c.name for c in cursor.description])
        except psycopg.errors.UndefinedTable:  # nothing published yet
            frames[name] = pd.DataFrame()
    pairs = current_scored_pairs()
    weights = pairs["match_weight"] if pairs is not None else pd.Series(dtype=float)
    return ReportData(match_weights=weights, **frames)


def write_report(conn: psycopg.Connection, out: Path | None = None) -> Path:
    """Write the report of the warehouse's current state; return its path (by default
    ``<ONETOONE_HOME>/reports/report.html``)."""
    out = out or paths().home / "reports" / "report.html"
    private_dir(out.parent)
    page = render_report(read_report_data(conn))
    partial = out.with_name(f".{out.name}.partial")
    partial.write_text(page, encoding="utf-8")
    private_file(partial).replace(out)  # a reader never sees half a page
    return out


# --- the charts -----------------------------------------------------------------------------

def _value_pyramid(data: ReportData) -> go.Figure | None:
    if data.tiers.empty:
        return None
    tiers = data.tiers.assign(order=data.tiers["value_tier"].map(
        {t: i for i, t in enumerate(TIER_ORDER)}).fillna(len(TIER_ORDER)))
    tiers = tiers.sort_values("order", ascending=False)
    figure = go.Figure(go.Bar(
        x=tiers["customers"], y=tiers["value_tier"].fillna("(no tier)"), orientation="h",
        text=[f"{s:,.0f} strategic" for s in tiers["strategic_value"].fillna(0)],
        hovertemplate="%{y}: %{x:,} customers<extra></extra>"))
    figure.update_layout(title="Value pyramid: customers per tier",
                         xaxis_title="customers", yaxis_title="value tier")
    return figure


def _tier_migrations(data: ReportData) -> go.Figure | None:
    if data.migrations.empty:
        return None
    moves = data.migrations.fillna({"from_value_tier": "new", "to_value_tier": "gone"})
    sources = [f"{t} (before)" for t in moves["from_value_tier"]]
    targets = [f"{t} (now)" for t in moves["to_value_tier"]]
    labels = list(dict.fromkeys(sources + targets))
    index = {label: i for i, label in enumerate(labels)}
    figure = go.Figure(go.Sankey(
        node={"label": labels, "pad": 20},
        link={"source": [index[s] for s in sources], "target": [index[t] for t in targets],
              "value": moves["customers"].astype(float).tolist()}))
    figure.update_layout(title="Tier migrations: where customers came from and went")
    return figure


def _portfolio_kpis(data: ReportData) -> go.Figure | None:
    if data.portfolios.empty:
        return None
    portfolios = data.portfolios.head(30)
    labels = [f"{p} ({m})" for p, m in zip(portfolios["portfolio_id"],
                                           portfolios["manager_name"], strict=True)]
    figure = go.Figure([
        go.Bar(name="actual value", x=labels, y=portfolios["actual_value_total"]),
        go.Bar(name="strategic value", x=labels, y=portfolios["strategic_value_total"]),
    ])
    figure.update_layout(title="Portfolios: actual and strategic value per book",
                         barmode="group", yaxis_title="value")
    return figure


def _quality_over_runs(data: ReportData) -> go.Figure | None:
    quality = data.quality.dropna(subset=["pass_rate"]) if not data.quality.empty else data.quality
    if quality.empty:
        return None
    figure = go.Figure([
        go.Scatter(name=layer, x=rows["as_of"], y=rows["pass_rate"].astype(float),
                   mode="lines+markers")
        for layer, rows in quality.groupby("layer")])
    figure.update_layout(title="Quality: share of checks passed per run and layer",
                         yaxis={"range": [0, 1.05], "tickformat": ".0%"}, xaxis_title="run day")
    return figure


def _cluster_sizes(data: ReportData) -> go.Figure | None:
    if data.clusters.empty:
        return None
    figure = go.Figure(go.Bar(x=data.clusters["records_per_customer"],
                              y=data.clusters["customers"]))
    figure.update_layout(title="Identity: source records per customer",
                         xaxis_title="records in the customer's cluster",
                         yaxis={"title": "customers", "type": "log"})
    return figure


def _match_weights(data: ReportData) -> go.Figure | None:
    if data.match_weights.empty:
        return None
    figure = go.Figure(go.Histogram(x=data.match_weights.astype(float), nbinsx=60))
    figure.update_layout(title="Identity: match weight of every scored pair",
                         xaxis_title="match weight (log2 of the odds)",
                         yaxis={"title": "pairs", "type": "log"})
    return figure


CHARTS = {
    "value-pyramid": _value_pyramid,
    "tier-migrations": _tier_migrations,
    "portfolio-kpis": _portfolio_kpis,
    "quality-pass-rate": _quality_over_runs,
    "cluster-sizes": _cluster_sizes,
    "match-weights": _match_weights,
}


def render_report(data: ReportData) -> str:
    """The page: each chart in a section of its id, or a line saying it has no data yet.
    plotly's script is written once, inline, before the first chart."""
    sections = []
    script_written = False
    for chart_id, draw in CHARTS.items():
        figure = draw(data)
        if figure is None:
            sections.append(f'<section id="{chart_id}" class="empty"><h2>{chart_id}</h2>'
                            "<p>No data yet: this appears after a published run.</p></section>")
            continue
        figure.update_layout(template="plotly_white", height=420)
        body = figure.to_html(full_html=False, include_plotlyjs=not script_written,
                              div_id=f"{chart_id}-chart", config={"displaylogo": False})
        script_written = True
        sections.append(f'<section id="{chart_id}" class="chart">{body}</section>')
    stamp = html.escape(data.generated_at.strftime("%Y-%m-%d %H:%M UTC"))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>onetoone run report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px}}
section{{margin-bottom:2rem}} .empty{{color:#666}}</style></head>
<body><h1>onetoone run report</h1><p>Written {stamp} from the published marts, the audit trail
and identity's latest run.</p>
<p>For data stewards, Splink's dashboards beside this page (they show record values, so only the
owner may open them): the <a href="stewards/review_queue_comparison_viewer.html">comparison viewer
of the review queue</a> and <a href="stewards/cluster_studio.html">cluster studio</a> of the
largest and least dense customers.</p>
{"".join(sections)}
</body></html>
"""
