"""Bar charts as inline SVG, drawn on the server: no script, no fonts or files from elsewhere.

A chart is a picture of a table the page shows beside it, so the SVG is hidden from screen
readers (`aria-hidden`) and the table carries the numbers. Colours are the page's permit and
deny colours, and each bar is also labelled with its numbers, so colour is never the only cue.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

PERMIT = "#135c2a"
DENY = "#9c1c1c"
WIDTH = 640
LABEL_WIDTH = 230
ROW = 30
BAR = 20


@dataclass(frozen=True)
class Bar:
    """One row of a chart: a label and its permitted and denied counts."""

    label: str
    permit: int
    deny: int

    @property
    def total(self) -> int:
        return self.permit + self.deny


def stacked_bars(bars: list[Bar]) -> Markup:
    """Horizontal bars, permitted then denied, scaled to the largest total, each with its
    label on the left and its counts in words on the right."""
    scale_width = WIDTH - LABEL_WIDTH - 170
    largest = max((bar.total for bar in bars), default=0) or 1
    height = ROW * len(bars) + 34
    parts = [
        f'<svg class="chart" aria-hidden="true" focusable="false" viewBox="0 0 {WIDTH} {height}" '
        f'width="{WIDTH}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, bar in enumerate(bars):
        y = i * ROW + 4
        permit_width = round(scale_width * bar.permit / largest)
        deny_width = round(scale_width * bar.deny / largest)
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 15}" text-anchor="end" '
            f'font-size="14" fill="#111">{escape(_short(bar.label))}</text>'
        )
        if permit_width:
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y}" width="{permit_width}" height="{BAR}" '
                f'fill="{PERMIT}"/>'
            )
        if deny_width:
            parts.append(
                f'<rect x="{LABEL_WIDTH + permit_width}" y="{y}" width="{deny_width}" '
                f'height="{BAR}" fill="{DENY}" fill-opacity="0.85"/>'
            )
        parts.append(
            f'<text x="{LABEL_WIDTH + permit_width + deny_width + 6}" y="{y + 15}" '
            f'font-size="13" fill="#111">{escape(_counts(bar))}</text>'
        )
    legend_y = ROW * len(bars) + 12
    parts += [
        f'<rect x="{LABEL_WIDTH}" y="{legend_y}" width="14" height="14" fill="{PERMIT}"/>',
        f'<text x="{LABEL_WIDTH + 20}" y="{legend_y + 12}" font-size="13" fill="#111">'
        "permitted</text>",
        f'<rect x="{LABEL_WIDTH + 110}" y="{legend_y}" width="14" height="14" fill="{DENY}" '
        'fill-opacity="0.85"/>',
        f'<text x="{LABEL_WIDTH + 130}" y="{legend_y + 12}" font-size="13" fill="#111">'
        "denied</text>",
        "</svg>",
    ]
    # Every value placed in the markup above went through html.escape.
    return Markup("".join(parts))


def _counts(bar: Bar) -> str:
    """ "2 permitted, 1 denied", leaving out a side that has none."""
    said = [f"{n:,} {word}" for n, word in ((bar.permit, "permitted"), (bar.deny, "denied")) if n]
    return ", ".join(said) or "none"


def _short(label: str, limit: int = 30) -> str:
    """A label that fits beside its bar (the table beside the chart has it in full)."""
    return label if len(label) <= limit else label[: limit - 1] + "…"
