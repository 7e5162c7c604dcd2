"""The dashboard's charts as plain geometry: bars, lines and labels in a viewBox that
templates/_chart.html writes out as inline SVG. No chart library and no script: the
page is complete as the server sends it, and every label passes through Jinja's
escaping like any other text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from bot.core import fmt

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 30  # room for the axes' labels
MAX_DAY_LABELS = 15
SERIES_CLASSES = 8  # s0..s7 in console.css


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    css: str
    tip: str  # shown on hover (an SVG <title>)


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"  # start | middle | end
    css: str = "axis"


@dataclass(frozen=True)
class Rule:
    x1: float
    y1: float
    x2: float
    y2: float
    css: str = "grid"


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    css: str
    tip: str


@dataclass(frozen=True)
class Line:
    points: str  # "x,y x,y ..."
    css: str


@dataclass
class Chart:
    """One chart: what _chart.html draws, and its legend (css class, label)."""

    title: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)
    empty: bool = False


def series_class(index: int) -> str:
    return f"s{index % SERIES_CLASSES}"


def nice_ceiling(value: float) -> float:
    """The axis' top: `value` rounded up to 1, 2 or 5 times a power of ten."""
    if value <= 0:
        return 1.0
    power = 1.0
    while power * 10 <= value:
        power *= 10
    while power > value:
        power /= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def decimal(value: float, digits: int = 1) -> str:
    """A Vietnamese decimal: 4,5."""
    text = f"{value:,.{digits}f}"
    return text.replace(",", " ").replace(".", ",").replace(" ", ".")


def _value_axis(chart: Chart, top: float, unit: str) -> None:
    plot_height = chart.height - TOP - BOTTOM
    for step in range(5):
        value = top * step / 4
        y = chart.height - BOTTOM - plot_height * step / 4
        chart.rules.append(Rule(LEFT, y, chart.width - RIGHT, y))
        shown = fmt.number(int(value)) if value == int(value) else decimal(value)
        chart.labels.append(Label(LEFT - 6, y + 4, f"{shown}{unit}", "end"))


def _day_axis(chart: Chart, days: list[date], slot: float) -> None:
    every = max(1, -(-len(days) // MAX_DAY_LABELS))
    for index, day in enumerate(days):
        if index % every == 0:
            x = LEFT + slot * (index + 0.5)
            chart.labels.append(Label(x, chart.height - BOTTOM + 16, fmt.short_day(day)))


def stacked_days(title: str, days: list[date], series: list[tuple[str, list[int]]]) -> Chart:
    """Vertical bars, one per day, stacked by series (a channel, a category)."""
    chart = Chart(title)
    totals = [sum(values[i] for _, values in series) for i in range(len(days))]
    top = nice_ceiling(max(totals, default=0))
    chart.empty = not any(totals)
    _value_axis(chart, top, "")
    slot = (chart.width - LEFT - RIGHT) / max(1, len(days))
    plot_height = chart.height - TOP - BOTTOM
    for i, day in enumerate(days):
        base = float(chart.height - BOTTOM)
        for s, (name, values) in enumerate(series):
            if not values[i]:
                continue
            height = plot_height * values[i] / top
            base -= height
            tip = f"{fmt.day(day)} · {name}: {fmt.number(values[i])}"
            chart.bars.append(
                Bar(LEFT + slot * i + slot * 0.15, base, slot * 0.7, height, series_class(s), tip)
            )
    _day_axis(chart, days, slot)
    chart.legend = [(series_class(s), name) for s, (name, _) in enumerate(series)]
    return chart


def lines_days(
    title: str, days: list[date], series: list[tuple[str, list[float | None]]], unit: str = ""
) -> Chart:
    """Lines over the days; a day without a value breaks the line."""
    chart = Chart(title)
    values = [v for _, points in series for v in points if v is not None]
    top = nice_ceiling(max(values, default=0))
    chart.empty = not values
    _value_axis(chart, top, unit)
    slot = (chart.width - LEFT - RIGHT) / max(1, len(days))
    plot_height = chart.height - TOP - BOTTOM
    for s, (name, points) in enumerate(series):
        css = series_class(s)
        run: list[str] = []
        for i, value in enumerate([*points, None]):
            if value is None:
                if len(run) > 1:
                    chart.lines.append(Line(" ".join(run), css))
                run = []
                continue
            x = LEFT + slot * (i + 0.5)
            y = chart.height - BOTTOM - plot_height * value / top
            run.append(f"{x:.1f},{y:.1f}")
            tip = f"{fmt.day(days[i])} · {name}: {decimal(value)}{unit}"
            chart.dots.append(Dot(x, y, css, tip))
    _day_axis(chart, days, slot)
    chart.legend = [(series_class(s), name) for s, (name, _) in enumerate(series)]
    return chart


def horizontal(
    title: str, items: list[tuple[str, list[int]]], parts: list[str] | None = None
) -> Chart:
    """One horizontal bar per item (its label on the left), stacked by `parts` when an
    item has several values (a form: sent, cancelled, left)."""
    row = 26
    label_width = 250
    chart = Chart(title, height=TOP + row * max(1, len(items)) + 8)
    totals = [sum(values) for _, values in items]
    top = nice_ceiling(max(totals, default=0))
    chart.empty = not any(totals)
    span = chart.width - label_width - RIGHT - 48
    for i, (name, values) in enumerate(items):
        y = TOP + row * i
        shown = name if len(name) <= 38 else name[:37] + "…"
        chart.labels.append(Label(label_width - 8, y + row * 0.62, shown, "end", "item"))
        x = float(label_width)
        for p, value in enumerate(values):
            if not value:
                continue
            width = span * value / top
            part = f"{parts[p]}: " if parts else ""
            tip = f"{name} · {part}{fmt.number(value)}"
            chart.bars.append(Bar(x, y + 4, width, row - 8, series_class(p), tip))
            x += width
        chart.labels.append(Label(x + 6, y + row * 0.62, fmt.number(totals[i]), "start", "value"))
    if parts:
        chart.legend = [(series_class(p), name) for p, name in enumerate(parts)]
    return chart
