"""The run report's page, drawn from small frames: every chart in its section, plotly's script
inline once (the page opens offline), and a plain line where there is no data yet."""

from __future__ import annotations

import re

import pandas as pd

from onetoone.operations.report import CHARTS, ReportData, render_report


def _data() -> ReportData:
    return ReportData(
        tiers=pd.DataFrame({"value_tier": ["MVC", "MGC", "BZ"], "customers": [2, 5, 1],
                            "actual_value": [900.0, 300.0, -40.0],
                            "strategic_value": [5000.0, 2100.0, 0.0]}),
        migrations=pd.DataFrame({"from_value_tier": [None, "MGC"], "to_value_tier": ["MVC", "BZ"],
                                 "customers": [3, 1]}),
        portfolios=pd.DataFrame({"portfolio_id": ["P1"], "manager_name": ["Ana Souza"],
                                 "customers": [8], "actual_value_total": [1160.0],
                                 "strategic_value_total": [7100.0], "churn_risk_avg": [0.2]}),
        quality=pd.DataFrame({"as_of": ["2026-11-01", "2026-11-02"], "layer": ["raw", "raw"],
                              "pass_rate": [0.97, 1.0]}),
        clusters=pd.DataFrame({"records_per_customer": [1, 2, 3], "customers": [50, 20, 4]}),
        match_weights=pd.Series([-5.6, -0.6, 5.0, 19.9]),
    )


def test_every_chart_is_drawn_with_the_plot_library_inline_once():
    page = render_report(_data())
    for chart_id in CHARTS:
        assert f'id="{chart_id}" class="chart"' in page
        assert f'id="{chart_id}-chart"' in page
    assert "No data yet" not in page
    assert not re.search(r"<script[^>]+src=", page), "the page must not load scripts from outside"
    assert page.count("Plotly=") + page.count("window.Plotly") >= 1
    assert len(page) > 1_000_000, "plotly's script is inline"
    assert page.count("plotly.js v") == 1, "the script is written once, not per chart"


def test_values_reach_the_charts():
    page = render_report(_data())
    assert "MVC (before)" not in page and "new (before)" in page and "BZ (now)" in page
    assert "P1 (Ana Souza)" in page


def test_a_warehouse_without_published_marts_gets_a_page_that_says_so():
    empty = ReportData(*(pd.DataFrame() for _ in range(5)), pd.Series(dtype=float))
    page = render_report(empty)
    assert page.count("No data yet") == len(CHARTS)
    assert "plotly.js v" not in page
