"""Charts of a digest as PNG images, drawn with matplotlib's Agg backend (no display needed).

- `weekly_allegations_chart`: allegations per ISO week, stacked by claim type.
- `incident_timeline_chart`: each incident of the month on one row, its coverage and claims as marks
  on the days they were published.
Labels come from labels.yaml in the digest's language; Chinese needs a CJK font (digests/fonts.py).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from digests.fonts import LATIN_FAMILY, has_cjk, require_cjk_font
from digests.labels import labels_for
from digests.model import Digest, IncidentSummary
from shellwatch.domain import ClaimType, Stance

# Fixed colours per claim type and stance, so the same type looks the same every month.
TYPE_COLOURS = {
    ClaimType.SELF_DEVELOPED: "#8c8c8c",
    ClaimType.LLAMA_BASED: "#c0392b",
    ClaimType.API_DISTILLED: "#e67e22",
    ClaimType.API_WRAPPER: "#2c3e50",
    ClaimType.PROMPT_WRAPPER: "#8e44ad",
    ClaimType.RAG_WRAPPER: "#16a085",
    ClaimType.FINE_TUNED: "#2980b9",
}
STANCE_MARKS = {
    Stance.ALLEGATION: ("v", "#c0392b"),
    Stance.DENIAL: ("s", "#2980b9"),
    Stance.ADMISSION: ("D", "#27ae60"),
    Stance.SELF_CLAIM: ("^", "#8e44ad"),
    Stance.ANALYSIS: ("o", "#7f8c8d"),
}
MAX_TIMELINE_ROWS = 20
DPI = 110
# The PNG's Software tag names the matplotlib version; leave it out so equal data gives equal bytes.
PNG_METADATA = {"Software": None}


def weekly_allegations_chart(digest: Digest) -> bytes:
    labels = labels_for(digest.lang)
    weeks = [row.week for row in digest.allegations_by_week]
    types = [t for t in ClaimType if any(row.counts.get(t.value) for row in digest.allegations_by_week)]
    with _fonts(labels, [labels["claim_type_labels"][t.value] for t in types]):
        figure = Figure(figsize=(7.5, 3.2), dpi=DPI)
        axes = figure.add_subplot()
        axes.set_title(labels["chart_weekly"])
        if not types:
            _no_data(axes, labels)
        else:
            positions = list(range(len(weeks)))
            bottoms = [0] * len(weeks)
            for claim_type in types:
                heights = [row.counts.get(claim_type.value, 0) for row in digest.allegations_by_week]
                axes.bar(
                    positions,
                    heights,
                    bottom=bottoms,
                    color=TYPE_COLOURS[claim_type],
                    label=labels["claim_type_labels"][claim_type.value],
                    width=0.6,
                )
                bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
            axes.set_xticks(positions, [week.strftime("%m-%d") for week in weeks])
            axes.set_xlabel(labels["chart_weekly_week"])
            axes.set_ylabel(labels["chart_weekly_count"])
            axes.yaxis.get_major_locator().set_params(integer=True)
            axes.set_ylim(0, max(bottoms) * 1.1 + 0.5)  # the tallest bar stays clear of the frame
            axes.legend(fontsize="small", frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
            axes.spines[["top", "right"]].set_visible(False)
        return _png(figure)


def incident_timeline_chart(digest: Digest) -> bytes:
    labels = labels_for(digest.lang)
    incidents = digest.incidents[:MAX_TIMELINE_ROWS]
    names = [_row_name(incident) for incident in incidents]
    stance_names = [labels["stance_labels"][s.value] for s in Stance]
    title = labels["chart_timeline"].format(month=digest.month)
    with _fonts(labels, [*names, *stance_names, title]):
        height = 1.4 + 0.42 * max(len(incidents), 2)
        figure = Figure(figsize=(7.5, height), dpi=DPI)
        axes = figure.add_subplot()
        axes.set_title(title)
        start = datetime.combine(digest.start, datetime.min.time(), UTC)
        days = (digest.end - digest.start).days
        if not incidents:
            _no_data(axes, labels)
        else:
            for row, incident in enumerate(reversed(incidents)):
                covered = [_day(item.published_at, start) for item in incident.coverage]
                opened = max(_day(incident.started_at, start), 0.0)
                axes.hlines(row, opened, max([opened, *covered]), color="#bdc3c7", linewidth=3, zorder=1)
                axes.scatter(
                    covered, [row] * len(covered), s=14, color="#95a5a6", zorder=2, label=labels["coverage"]
                )
                for report in _marked_claims(incident, start, days):
                    marker, colour = STANCE_MARKS[report.stance]
                    axes.scatter(
                        [_day(report.article.published_at, start)],
                        [row],
                        marker=marker,
                        color=colour,
                        s=46,
                        zorder=3,
                        label=labels["stance_labels"][report.stance.value],
                    )
            axes.set_yticks(range(len(incidents)), list(reversed(names)))
            ticks = [d for d in range(0, days, 7)]
            axes.set_xticks(ticks, [(start + timedelta(days=d)).strftime("%m-%d") for d in ticks])
            axes.set_xlim(-0.5, days + 0.5)
            axes.set_ylim(-0.7, len(incidents) - 0.3)
            axes.set_xlabel(labels["chart_timeline_date"])
            handles, texts = axes.get_legend_handles_labels()
            unique = dict(zip(texts, handles, strict=True))
            order = [labels["coverage"], *(labels["stance_labels"][s.value] for s in Stance)]
            unique = {text: unique[text] for text in order if text in unique}
            if unique:
                axes.legend(
                    unique.values(),
                    unique.keys(),
                    fontsize="small",
                    frameon=False,
                    loc="upper left",
                    bbox_to_anchor=(1.0, 1.0),
                )
            axes.spines[["top", "right", "left"]].set_visible(False)
        return _png(figure)


def _marked_claims(incident: IncidentSummary, start: datetime, days: int):
    reports = [incident.first_allegation, *incident.responses, *incident.developments]
    seen = set()
    for report in reports:
        if report is None:
            continue
        day = _day(report.article.published_at, start)
        key = (report.stance, report.article.article_id)
        if 0 <= day < days and key not in seen:
            seen.add(key)
            yield report


def _row_name(incident: IncidentSummary, limit: int = 28) -> str:
    name = incident.title or incident.subject_name
    return name if len(name) <= limit else name[: limit - 1] + "…"


def _day(moment: datetime, start: datetime) -> float:
    return (moment.astimezone(UTC) - start).total_seconds() / 86400


def _no_data(axes, labels: dict) -> None:
    axes.text(
        0.5, 0.5, labels["chart_no_data"], ha="center", va="center", transform=axes.transAxes, color="#7f8c8d"
    )
    axes.set_axis_off()


@contextmanager
def _fonts(labels: dict, texts: list[str]) -> Iterator[None]:
    """DejaVu Sans for Latin text with the CJK font as per-glyph fallback when any text needs it."""
    families = [LATIN_FAMILY]
    if any(has_cjk(text) for text in [*texts, *map(str, labels.values())]):
        families.append(require_cjk_font().family)
    # WenQuanYi Zen Hei has only a medium weight; matplotlib uses it and needs not log about it.
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        with rc_context({"font.family": families}):
            yield
    finally:
        font_log.setLevel(level)


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight", metadata=PNG_METADATA)
    return buffer.getvalue()
