"""Line charts (pass rate, Web Vitals p75) as SVG geometry computed on the server: no script needed."""

from __future__ import annotations

from dataclasses import dataclass


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


def line_chart(values: list[float | None], labels: list[str], *, width: int = 320, height: int = 90,
               y_max: float | None = None, budget: float | None = None, label: str = "") -> Chart:
    """Place values (None = gap, skipped) on a width × height box; 0 at the bottom."""
    measured = [v for v in values if v is not None]
    top = y_max if y_max is not None else max([*measured, budget or 0, 0]) * 1.1 or 1
    pad = 4
    step = (width - 2 * pad) / max(1, len(values) - 1)
    dots = []
    for index, (value, text) in enumerate(zip(values, labels, strict=False)):
        if value is None:
            continue
        x = pad + index * step if len(values) > 1 else width / 2
        y = height - pad - (min(value, top) / top) * (height - 2 * pad)
        dots.append((round(x, 1), round(y, 1), text))
    budget_y = None
    if budget is not None:
        budget_y = round(height - pad - (min(budget, top) / top) * (height - 2 * pad), 1)
    points = " ".join(f"{x},{y}" for x, y, _ in dots)
    return Chart(width, height, points, dots, budget_y, top, label)
