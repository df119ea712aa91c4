"""Line charts (pass rate, Web Vitals p75) as SVG geometry computed on the server: no script needed."""

from __future__ import annotations

from dataclasses import dataclass, field

PAD = 4
AXIS_LEFT, AXIS_BOTTOM = 40, 16  # room for the value labels left of the plot and the run ids below it


@dataclass
class Chart:
    """A line chart's geometry in SVG user units, computed on the server."""

    width: int
    height: int
    points: str
    dots: list[tuple[float, float, str]]
    budget_y: float | None
    y_max: float
    label: str
    runs: int = 0  # the values charted, gaps included
    left: float = PAD  # where the plot starts (x) and where its 0 is (y)
    base_y: float = 0
    y_ticks: list[tuple[float, str]] = field(default_factory=list)  # (y, value) when drawn with axes
    x_ticks: list[tuple[float, str, str]] = field(default_factory=list)  # (x, text-anchor, run id)


def line_chart(values: list[float | None], labels: list[str], *, width: int = 320, height: int = 90,
               y_max: float | None = None, budget: float | None = None, label: str = "", axes: bool = False,
               decimals: int = 0) -> Chart:
    """Place values (None = gap, skipped) on a width × height box; 0 at the bottom. With `axes`, leave room
    for the value axis (0, half and top of the scale, `decimals` places) and the first and last run's id."""
    measured = [v for v in values if v is not None]
    top = y_max if y_max is not None else max([*measured, budget or 0, 0]) * 1.1 or 1
    left, base = (AXIS_LEFT, height - AXIS_BOTTOM) if axes else (PAD, height - PAD)
    right = width - PAD

    def y_of(value: float) -> float:
        return round(base - (min(value, top) / top) * (base - PAD), 1)

    step = (right - left) / max(1, len(values) - 1)
    dots = []
    for index, (value, text) in enumerate(zip(values, labels, strict=False)):
        if value is None:
            continue
        x = left + index * step if len(values) > 1 else (left + right) / 2
        dots.append((round(x, 1), y_of(value), text))
    budget_y = y_of(budget) if budget is not None else None
    points = " ".join(f"{x},{y}" for x, y, _ in dots)
    chart = Chart(width, height, points, dots, budget_y, top, label, runs=len(values), left=left, base_y=base)
    if axes and values:
        chart.y_ticks = [(y_of(value), f"{value:.{decimals}f}") for value in (0, top / 2, top)]
        chart.x_ticks = [(left, "start", labels[0])] + ([(right, "end", labels[-1])] if len(labels) > 1 else [])
    return chart
