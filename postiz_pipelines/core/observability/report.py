"""The analytics report: charts (matplotlib, PNG) and tables, as Markdown for the Dagster
UI and as an HTML page with PNG files under the data folder.

Charts: published posts per platform per day with each platform's success rate, the
distribution of publish lag, and engagement per platform. Figures are drawn on
``matplotlib.figure.Figure`` with the Agg canvas directly (no pyplot: no global state, safe
in threads). Empty data draws an empty chart that says so, never an error.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from postiz_pipelines.core.observability.tables import cell, markdown_table

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

DPI = 80
SIZES = {"volume": (8.0, 6.0), "lag": (8.0, 4.5), "engagement": (8.0, 4.5)}  # inches
TITLES = {
    "volume": "Published per platform and success rate",
    "lag": "Publish lag (scheduled instant to platform acceptance)",
    "engagement": "Engagement per platform",
}


def pixel_size(chart: str) -> tuple[int, int]:
    """The PNG's (width, height) in pixels."""
    w, h = SIZES[chart]
    return int(w * DPI), int(h * DPI)


@dataclass
class Report:
    day: str
    charts: dict[str, bytes]  # name -> PNG bytes
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)

    def _img(self, name: str) -> str:
        return "data:image/png;base64," + base64.b64encode(self.charts[name]).decode()

    def markdown(self, *, max_rows: int = 15) -> str:
        """Charts as base64 data-URI images, then the tables (the Dagster UI renders it)."""
        parts = [f"# Analytics report {self.day}", ""]
        if self.figures:
            parts += [" · ".join(f"**{k}**: {cell(v)}" for k, v in self.figures.items()), ""]
        for name in self.charts:
            parts += [f"## {TITLES.get(name, name)}", f"![{name}]({self._img(name)})", ""]
        for title, df in self.tables.items():
            parts += [f"## {title}", markdown_table(df, max_rows=max_rows), ""]
        return "\n".join(parts)

    def html(self) -> str:
        """A self-contained HTML page: the same charts and tables."""
        body = [f"<h1>Analytics report {html.escape(self.day)}</h1>"]
        if self.figures:
            items = "".join(
                f"<li><b>{html.escape(k)}</b>: {html.escape(cell(v))}</li>"
                for k, v in self.figures.items()
            )
            body.append(f"<ul>{items}</ul>")
        for name in self.charts:
            title = html.escape(TITLES.get(name, name))
            body.append(f'<h2>{title}</h2><img alt="{name}" src="{self._img(name)}">')
        for title, df in self.tables.items():
            table = df.to_html(index=False, na_rep="-", float_format=cell, border=0)
            body.append(f"<h2>{html.escape(title)}</h2>{table}")
        style = (
            "body{font-family:sans-serif;margin:2em;max-width:70em}"
            "table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>Analytics report {html.escape(self.day)}</title><style>{style}</style>"
            f"</head><body>{''.join(body)}</body></html>"
        )

    def write(self, folder: Path) -> dict[str, Path]:
        """Write ``report.html`` and one PNG per chart into ``folder``; returns the paths."""
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, png in self.charts.items():
            path = folder / f"{name}.png"
            path.write_bytes(png)
            paths[name] = path
        page = folder / "report.html"
        page.write_text(self.html(), encoding="utf-8")
        paths["html"] = page
        return paths


def _figure(chart: str, rows: int = 1) -> tuple[Any, list[Axes]]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=SIZES[chart], dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(rows, 1, i + 1) for i in range(rows)]
    return fig, axes


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return buf.getvalue()


def _nothing(ax: Axes, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="gray")
    ax.set_xticks([])
    ax.set_yticks([])


def volume_chart(history: pd.DataFrame, days: list[str] | None = None) -> bytes:
    """Stacked bars of published posts per day and platform; below, each platform's
    success rate per day (gaps where nothing finished). ``days`` is the axis (every day of
    the window, those without posts included); default: the days of ``history``."""
    fig, (top, bottom) = _figure("volume", rows=2)
    top.set_title("Published per day")
    bottom.set_title("Success rate per day")
    if history.empty:
        _nothing(top)
        _nothing(bottom)
        return _png(fig)
    published = history.pivot_table(
        index="day", columns="platform", values="published", aggfunc="sum", fill_value=0
    ).sort_index()
    days = days or list(published.index)
    published = published.reindex(days, fill_value=0)
    x = list(range(len(days)))
    base = [0.0] * len(days)
    for platform in published.columns:
        values = [float(v) for v in published[platform]]
        top.bar(x, values, bottom=base, label=str(platform))
        base = [b + v for b, v in zip(base, values, strict=True)]
    labels = [d[5:] for d in days]  # MM-DD
    top.set_xticks(x, labels, rotation=45, fontsize=7)
    top.set_ylabel("posts")
    top.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    sums = history.groupby(["day", "platform"])[["published", "failed"]].sum()
    finished = sums["published"] + sums["failed"]
    rate = (sums["published"] / finished.where(finished > 0) * 100).unstack("platform")
    rate = rate.reindex(days)
    for platform in rate.columns:
        bottom.plot(x, list(rate[platform]), marker="o", label=str(platform))
    bottom.set_xticks(x, labels, rotation=45, fontsize=7)
    bottom.set_ylim(0, 105)
    bottom.set_ylabel("%")
    return _png(fig)


def lag_chart(lags: pd.DataFrame) -> bytes:
    """A histogram of publish lag in seconds per platform, with p50/p95/p99 marked."""
    fig, (ax,) = _figure("lag")
    known = lags[lags["lag_s"].notna()] if len(lags) else lags
    if known.empty:
        _nothing(ax, "no published post with a known lag")
        return _png(fig)
    values = known["lag_s"].astype(float)
    low, high = float(values.min()), float(values.max())
    bins = 20 if high > low else 1
    groups = [(str(p), g["lag_s"].astype(float).tolist()) for p, g in known.groupby("platform")]
    ax.hist(
        [g for _, g in groups],
        bins=bins,
        range=(low, high if high > low else low + 1),
        stacked=True,
        label=[p for p, _ in groups],
    )
    for q, style in ((0.5, "-"), (0.95, "--"), (0.99, ":")):
        v = float(values.quantile(q))
        ax.axvline(
            v, color="black", linestyle=style, linewidth=1, label=f"p{int(q * 100)} {v:.1f}s"
        )
    ax.set_xlabel("seconds late")
    ax.set_ylabel("posts")
    ax.legend(fontsize=7)
    return _png(fig)


def engagement_chart(by_platform: pd.DataFrame) -> bytes:
    """Grouped bars of likes, reposts and replies per platform."""
    fig, (ax,) = _figure("engagement")
    if by_platform.empty:
        _nothing(ax, "no engagement pulled yet")
        return _png(fig)
    platforms = [str(p) for p in by_platform["platform"]]
    x = list(range(len(platforms)))
    width = 0.27
    for i, metric in enumerate(("likes", "reposts", "replies")):
        values = [0.0 if v != v else float(v) for v in by_platform[metric]]  # NaN -> 0 bar
        ax.bar([p + (i - 1) * width for p in x], values, width=width, label=metric)
    ax.set_xticks(x, platforms)
    ax.set_ylabel("count")
    ax.legend(fontsize=7)
    return _png(fig)


def build_report(
    day: str,
    *,
    history: pd.DataFrame,
    lags: pd.DataFrame,
    engagement_by_platform: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    figures: dict[str, Any] | None = None,
    days: list[str] | None = None,
) -> Report:
    """The report of ``day``: ``history`` is ``publish_outcomes`` over ``days`` (the chart's
    axis), ``lags`` the day's ``publish_events``."""
    charts = {
        "volume": volume_chart(history, days),
        "lag": lag_chart(lags[lags["event"] == "post_published"] if len(lags) else lags),
        "engagement": engagement_chart(engagement_by_platform),
    }
    return Report(day=day, charts=charts, tables=tables, figures=dict(figures or {}))
