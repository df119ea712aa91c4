"""Line charts (pass rate, Web Vitals p75) as SVG geometry computed on the server: no script needed.

A chart may carry runs apart from its line (aborted runs on the runs tab): each is a rule across the plot
at its place in time and, when it measured something, a marker of its own shape and colour at its value.
They are never joined to the line, and no figure the chart states counts them."""

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
    runs: int = 0  # the values on the line, gaps included (runs apart not counted)
    left: float = PAD  # where the plot starts (x) and where its 0 is (y)
    base_y: float = 0
    y_ticks: list[tuple[float, str]] = field(default_factory=list)  # (y, value) when drawn with axes
    x_ticks: list[tuple[float, str, str]] = field(default_factory=list)  # (x, text-anchor, run id)
    apart_x: list[float] = field(default_factory=list)  # where each run kept apart is (its rule)
    apart_dots: list[tuple[float, float, str]] = field(default_factory=list)  # those of them that measured


def line_chart(
    values: list[float | None],
    labels: list[str],
    *,
    width: int = 320,
    height: int = 90,
    y_max: float | None = None,
    budget: float | None = None,
    label: str = "",
    axes: bool = False,
    decimals: int = 0,
    apart: list[bool] | None = None,
) -> Chart:
    """Place values (None = gap, skipped) on a width × height box; 0 at the bottom. With `axes`, leave room
    for the value axis (0, half and top of the scale, `decimals` places) and the first and last run's id.
    `apart[i]` keeps value i off the line (a run that did not run all its tests): the line joins the rest."""
    apart = apart or [False] * len(values)
    measured = [v for v in values if v is not None]
    top = y_max if y_max is not None else max([*measured, budget or 0, 0]) * 1.1 or 1
    left, base = (AXIS_LEFT, height - AXIS_BOTTOM) if axes else (PAD, height - PAD)
    right = width - PAD

    def y_of(value: float) -> float:
        return round(base - (min(value, top) / top) * (base - PAD), 1)

    step = (right - left) / max(1, len(values) - 1)
    dots, apart_x, apart_dots = [], [], []
    for index, (value, text) in enumerate(zip(values, labels, strict=False)):
        x = round(left + index * step if len(values) > 1 else (left + right) / 2, 1)
        if index < len(apart) and apart[index]:
            apart_x.append(x)
            if value is not None:
                apart_dots.append((x, y_of(value), text))
        elif value is not None:
            dots.append((x, y_of(value), text))
    budget_y = y_of(budget) if budget is not None else None
    points = " ".join(f"{x},{y}" for x, y, _ in dots)
    chart = Chart(
        width,
        height,
        points,
        dots,
        budget_y,
        top,
        label,
        runs=len(values) - len(apart_x),
        left=left,
        base_y=base,
        apart_x=apart_x,
        apart_dots=apart_dots,
    )
    if axes and values:
        chart.y_ticks = [(y_of(value), f"{value:.{decimals}f}") for value in (0, top / 2, top)]
        chart.x_ticks = [(left, "start", labels[0])] + (
            [(right, "end", labels[-1])] if len(labels) > 1 else []
        )
    return chart
