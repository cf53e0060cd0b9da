"""
Charts drawn on the server: an SVG with its numbers in a table beside it, so a
chart needs no script and a screen reader reads the table.

`line_chart()` returns the geometry; `templates/includes/chart.html` draws it
(colours come from classes in `static/css/charts.css`, never inline styles).
"""

from dataclasses import dataclass, field
from datetime import date

from nobroker.bsdate import format_ad

WIDTH = 640
HEIGHT = 220
PAD_LEFT = 44
PAD_RIGHT = 12
PAD_TOP = 12
PAD_BOTTOM = 28


@dataclass
class Series:
    label: str
    css: str  # a class of charts.css: series-1 .. series-4
    values: list[int]
    points: str = ""
    total: int = 0


@dataclass
class Chart:
    title: str
    labels: list[str]  # one per x position (a day, a week, a month)
    series: list[Series]
    width: int = WIDTH
    height: int = HEIGHT
    y_ticks: list[tuple[float, int]] = field(default_factory=list)
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    plot_left: int = PAD_LEFT
    plot_right: int = WIDTH - PAD_RIGHT
    plot_top: int = PAD_TOP
    plot_bottom: int = HEIGHT - PAD_BOTTOM

    @property
    def rows(self) -> list[tuple[str, list[int]]]:
        """The table beside the chart: one row per x position."""
        return [
            (label, [s.values[i] for s in self.series])
            for i, label in enumerate(self.labels)
        ]

    @property
    def is_empty(self) -> bool:
        return not any(s.total for s in self.series)


def _nice_max(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten at or above value."""
    if value <= 4:
        return 4
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude * 4 >= value:
                return step * magnitude * 4
        magnitude *= 10


def day_label(day: date) -> str:
    """'3 Nov', or '३ नोभेम्बर' on a Nepali page."""
    return format_ad(day, "j M")


def line_chart(
    *, title: str, labels: list[str], series: list[tuple[str, str, list[int]]]
) -> Chart:
    """Lines for each (label, css class, values) over the x labels."""
    chart = Chart(
        title=title,
        labels=labels,
        series=[Series(label, css, list(values)) for label, css, values in series],
    )
    top = _nice_max(max((max(s.values, default=0) for s in chart.series), default=0))
    span_x = chart.plot_right - chart.plot_left
    span_y = chart.plot_bottom - chart.plot_top
    count = len(labels)

    def x(i: int) -> float:
        return chart.plot_left + (span_x * i / (count - 1) if count > 1 else span_x / 2)

    def y(value: int) -> float:
        return chart.plot_bottom - span_y * value / top

    for s in chart.series:
        s.points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        s.total = sum(s.values)
    chart.y_ticks = [(round(y(top * k / 4), 1), top * k // 4) for k in range(5)]
    # Five labels along the bottom at most: the first, the last, three between.
    if count:
        picks = sorted({round((count - 1) * k / 4) for k in range(5)})
        chart.x_ticks = [(round(x(i), 1), labels[i]) for i in picks]
    return chart
