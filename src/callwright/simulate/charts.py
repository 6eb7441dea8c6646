"""The report's charts, as inline SVG written by hand.

Three kinds are needed: horizontal bars with an interval (a pass rate per value, a mean WER per
value), lines over a few categories (WER against SNR, one line per voice), and a histogram
(voice-to-voice latency). A plotting library would add a large dependency (matplotlib is ~40 MB with
its fonts; its SVG embeds paths for every glyph) or a script from a CDN (which an offline report
cannot load), for what comes to a few dozen ``<rect>`` and ``<line>`` elements. Written by hand they
are small, scale with the page, take the page's font and colours from its CSS classes, and every
text is escaped. Each mark has a ``<title>``: hovering over it shows its exact value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

WIDTH = 640
ROW = 22  # height of one bar
LABEL = 230  # room for the labels left of the bars
PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#9b2c2c", "#6b46c1", "#b7791f", "#2c7a7b", "#97266d")


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # 0..scale
    low: float | None = None  # an interval around it, if any
    high: float | None = None
    note: str = ""  # written after the bar ("3/4")
    bad: bool = False  # drawn in the warning colour


def bars(rows: Sequence[Bar], *, scale: float = 1.0, percent: bool = True, title: str = "") -> str:
    """Horizontal bars from 0 to ``scale``, one per row, with their intervals as whiskers."""
    plot = WIDTH - LABEL - 90
    height = ROW * len(rows) + 28
    out = [_open(height, title)]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = LABEL + tick * plot
        out.append(f'<line class="grid" x1="{x:.1f}" y1="4" x2="{x:.1f}" y2="{height - 20}"/>')
        out.append(f'<text class="tick" x="{x:.1f}" y="{height - 6}" text-anchor="middle">{_number(tick * scale, percent)}</text>')
    for i, row in enumerate(rows):
        y = 6 + i * ROW
        width = max(0.0, min(1.0, row.value / scale)) * plot if scale else 0.0
        tip = f"{row.label}: {_number(row.value, percent)}"
        if row.low is not None and row.high is not None:
            tip += f" (95 % interval {_number(row.low, percent)} to {_number(row.high, percent)})"
        out.append(f'<text class="label" x="{LABEL - 8}" y="{y + ROW * 0.62:.1f}" text-anchor="end">{escape(_cut(row.label, 34))}</text>')
        out.append(f'<rect class="bar{" bad" if row.bad else ""}" x="{LABEL}" y="{y + 3}" width="{width:.1f}" height="{ROW - 8}">'
                   f"<title>{escape(tip)}</title></rect>")
        if row.low is not None and row.high is not None and scale:
            x1, x2, mid = LABEL + row.low / scale * plot, LABEL + row.high / scale * plot, y + ROW / 2 - 1
            out.append(f'<path class="ci" d="M{x1:.1f},{mid - 5:.1f}v10M{x1:.1f},{mid:.1f}H{x2:.1f}M{x2:.1f},{mid - 5:.1f}v10"/>')
        out.append(f'<text class="note" x="{LABEL + plot + 8}" y="{y + ROW * 0.62:.1f}">{escape(row.note)}</text>')
    out.append("</svg>")
    return "".join(out)


def lines(categories: Sequence[str], series: Mapping[str, Sequence[float | None]], *, scale: float, percent: bool = True,
          x_title: str = "", title: str = "") -> str:
    """One line per series over the same ``categories`` (a missing value breaks the line), with a legend."""
    height, left, right, top, bottom = 260, 56, 250, 12, 44
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    step = plot_w / max(1, len(categories) - 1)
    out = [_open(height, title)]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = top + plot_h * (1 - tick)
        out.append(f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}"/>')
        out.append(f'<text class="tick" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(tick * scale, percent)}</text>')
    for i, category in enumerate(categories):
        out.append(f'<text class="tick" x="{left + i * step:.1f}" y="{top + plot_h + 16}" text-anchor="middle">{escape(category)}</text>')
    out.append(f'<text class="tick" x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle">{escape(x_title)}</text>')
    for n, (name, values) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        runs: list[list[tuple[float, float]]] = [[]]
        for i, v in enumerate(values):
            if v is None:
                runs.append([])
                continue
            x, y = left + i * step, top + plot_h * (1 - min(1.0, v / scale))
            runs[-1].append((x, y))
            out.append(f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{colour}">'
                       f"<title>{escape(name)}, {escape(categories[i])}: {_number(v, percent)}</title></circle>")
        for run in runs:
            if len(run) > 1:
                path = "M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in run)
                out.append(f'<path class="series" d="{path}" stroke="{colour}"/>')
        ly = top + 10 + n * 18
        out.append(f'<rect x="{WIDTH - right + 12}" y="{ly - 8}" width="12" height="4" fill="{colour}"/>')
        out.append(f'<text class="legend" x="{WIDTH - right + 30}" y="{ly}">{escape(_cut(name, 34))}<title>{escape(name)}</title></text>')
    out.append("</svg>")
    return "".join(out)


def histogram(values: Sequence[float], *, bins: int = 20, unit: str = "ms", marks: dict[str, float] | None = None,
              title: str = "") -> str:
    """How ``values`` spread: ``bins`` equal bins over their range (from 0 when they start near it),
    with ``marks`` (p50 ...) as dashed lines."""
    height, left, top, bottom = 220, 40, 18, 40
    plot_w, plot_h = WIDTH - left - 16, height - top - bottom
    most_value = max(values, default=0.0) or 1.0
    least = min(values, default=0.0)
    low = 0.0 if least < 0.4 * most_value else _round_down(least * 0.9)
    high = max(low + 1.0, most_value * 1.05)
    width = (high - low) / bins
    counts = [0] * bins
    for v in values:
        counts[max(0, min(bins - 1, int((v - low) / width)))] += 1
    most = max(counts, default=0) or 1

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * plot_w

    out = [_open(height, title)]
    out.append(f'<line class="axis" x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}"/>')
    for i, count in enumerate(counts):
        h = count / most * plot_h
        tip = f"{low + i * width:,.0f}-{low + (i + 1) * width:,.0f} {unit}: {count}"
        out.append(f'<rect class="bin" x="{x(low + i * width) + 1:.1f}" y="{top + plot_h - h:.1f}" width="{plot_w / bins - 2:.1f}" '
                   f'height="{h:.1f}"><title>{escape(tip)}</title></rect>')
    for tick in range(0, 5):
        at = low + tick / 4 * (high - low)
        out.append(f'<text class="tick" x="{x(at):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{at:,.0f}</text>')
    out.append(f'<text class="tick" x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle">{escape(unit)}</text>')
    out.append(f'<text class="tick" x="{left - 6}" y="{top + 8}" text-anchor="end">{most}</text>')
    labelled = -1e9
    for name, at in (marks or {}).items():
        out.append(f'<line class="mark" x1="{x(at):.1f}" y1="{top}" x2="{x(at):.1f}" y2="{top + plot_h}">'
                   f"<title>{escape(name)} {at:,.0f} {escape(unit)}</title></line>")
        if x(at) - labelled >= 34:  # a name over its line, where the lines are apart
            out.append(f'<text class="marklabel" x="{x(at):.1f}" y="{top - 3}" text-anchor="middle">{escape(name)}</text>')
            labelled = x(at)
    if marks:
        said = " · ".join(f"{name} {at:,.0f}" for name, at in marks.items())
        out.append(f'<text class="marklabel" x="{left + 8}" y="{top + 14}">{escape(said)} {escape(unit)}</text>')
    out.append("</svg>")
    return "".join(out)


def _round_down(value: float) -> float:
    """``value`` down to a round number (two significant digits' worth): 1,566 -> 1,500."""
    if value <= 0:
        return 0.0
    step = 10 ** max(0, len(str(int(value))) - 2)
    return float(int(value) // step * step)


def _open(height: float, title: str) -> str:
    label = f' aria-label="{escape(title)}"' if title else ""
    return f'<svg class="chart" viewBox="0 0 {WIDTH} {height:.0f}" role="img"{label} xmlns="http://www.w3.org/2000/svg">'


def _number(value: float, percent: bool) -> str:
    return f"{value:.0%}" if percent else f"{value:,.2g}"


def _cut(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"
