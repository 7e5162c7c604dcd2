"""The consumption chart a customer sees in chat: kWh per billing period, as a PNG.

Each call draws on its own `Figure` with the Agg canvas (no pyplot, no global state),
so it is safe to call from several worker threads (asyncio.to_thread).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from bot.core.fmt import number
from bot.core.texts import Texts

# The words on and under the chart are in domain.yml ("chart.*"), like every text.
CHART_KEYS = (
    "up",
    "down",
    "same",
    "from_zero",
    "under_one_percent",
    "current",
    "year_before",
    "average",
    "x_axis",
    "y_axis",
)

MAX_PERIODS = 12
# A 1000 x 700 PNG, which a phone shows about 390 CSS pixels wide (the chat's width):
# a point is 250 / 72 * 390 / 1000 = 1.35 px there.
SIZE_INCHES = (4.0, 2.8)
DPI = 250
PHONE_WIDTH_PX = 390
CURRENT_COLOUR = "#0B5CAD"
YEAR_BEFORE_COLOUR = "#A9C6E8"
AVERAGE_COLOUR = "#E07B00"
FONT_SIZE = 9.0  # points: 12.2 CSS px at the phone's width, its smallest readable text


@dataclass(frozen=True)
class ChartPoint:
    """One billing period on the chart: its label ("10/2026") and kWh, now and a year earlier."""

    label: str
    kwh: int
    kwh_year_before: int | None = None


@functools.cache
def _texts(lang: str) -> dict[str, str]:
    texts = Texts.load()
    return {key: texts.get(f"chart.{key}", lang) for key in CHART_KEYS}


def change_in_words(current: int, previous: int, lang: str) -> str:
    """'Tăng 12% (16 kWh) so với kỳ trước.' and its siblings, for two periods' kWh."""
    if current < 0 or previous < 0:
        raise ValueError(f"consumption cannot be negative: {current}, {previous}")
    texts = _texts(lang)
    delta = abs(current - previous)
    if delta == 0:
        return texts["same"].format(current=number(current, lang))
    if previous == 0:  # no percentage of nothing
        return texts["from_zero"].format(delta=number(delta, lang))
    whole = (200 * delta + previous) // (2 * previous)  # percent, rounded half up
    percent = f"{number(whole, lang)}%" if whole else texts["under_one_percent"]
    key = "up" if current > previous else "down"
    return texts[key].format(percent=percent, delta=number(delta, lang))


def consumption_chart(points: Sequence[ChartPoint], *, title: str, lang: str = "vi") -> bytes:
    """Bars of kWh for the last (up to) 12 periods, a year earlier beside each, and the
    average as a line; a 1000 x 700 PNG.

    Raises:
        ValueError: no points to draw.
    """
    figure = chart_figure(points, title=title, lang=lang)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def chart_figure(points: Sequence[ChartPoint], *, title: str, lang: str = "vi") -> Figure:
    """The figure `consumption_chart` renders (tests measure its text)."""
    shown = list(points)[-MAX_PERIODS:]
    if not shown:
        raise ValueError("a consumption chart needs at least one period")
    texts = _texts(lang)
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)  # attaches itself: the figure renders with Agg, not a GUI backend
    axes = figure.add_subplot()

    has_year_before = any(p.kwh_year_before is not None for p in shown)
    width = 0.4 if has_year_before else 0.6
    offset = width / 2 if has_year_before else 0.0
    current = axes.bar(
        [i + offset for i in range(len(shown))],
        [p.kwh for p in shown],
        width,
        color=CURRENT_COLOUR,
        label=texts["current"],
    )
    handles: list[Artist | BarContainer] = [current]
    if has_year_before:
        # A period with no bill a year earlier simply has no light bar.
        older = [
            (i, p.kwh_year_before) for i, p in enumerate(shown) if p.kwh_year_before is not None
        ]
        year_before = axes.bar(
            [i - offset for i, _ in older],
            [kwh for _, kwh in older],
            width,
            color=YEAR_BEFORE_COLOUR,
            label=texts["year_before"],
        )
        handles.append(year_before)
    average = (2 * sum(p.kwh for p in shown) + len(shown)) // (2 * len(shown))  # half up
    average_label = texts["average"].format(count=len(shown), kwh=number(average, lang))
    handles += axes.plot(
        [-0.5, len(shown) - 0.5],
        [average, average],
        color=AVERAGE_COLOUR,
        linewidth=1.2,
        linestyle="--",
        label=average_label,
    )
    figure.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(len(handles), 2),  # three at a readable size are wider than the chart
        fontsize=FONT_SIZE,
        frameon=False,
        handlelength=1.5,
        columnspacing=1.0,
    )

    tallest = max(max(p.kwh, p.kwh_year_before or 0) for p in shown)
    axes.set_ylim(0, max(tallest, 1) * 1.18)  # head room for the value labels
    # Few periods keep the width of six, centred, rather than a few very wide bars.
    margin = (max(len(shown), 6) - len(shown)) / 2 + 0.5
    axes.set_xlim(-margin, len(shown) - 1 + margin)
    _value_labels(axes, shown, offset, lang)
    _style(axes, shown, title, texts, lang)
    return figure


def _fits(text_length: int, periods: int) -> bool:
    """Whether a label of `text_length` characters fits in one period's slot across."""
    plot_width_px = SIZE_INCHES[0] * DPI * 0.85  # the axes take ~85% of the width
    char_px = FONT_SIZE * DPI / 72 * 0.62  # DejaVu Sans digits are ~0.62 em wide
    return text_length * char_px <= plot_width_px / periods * 0.95


def _value_labels(axes: Axes, shown: Sequence[ChartPoint], offset: float, lang: str) -> None:
    values = [number(p.kwh, lang) for p in shown]
    if not _fits(max(len(v) for v in values), len(shown)):
        return  # too crowded to read: the y axis and the bars say enough
    for index, (point, text) in enumerate(zip(shown, values, strict=True)):
        # On top of the period's own bar; the white backing keeps it legible where it
        # overlaps a taller bar of the year before.
        axes.annotate(
            text,
            (index + offset, point.kwh),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=FONT_SIZE,
            color=CURRENT_COLOUR,
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )


def _style(
    axes: Axes, shown: Sequence[ChartPoint], title: str, texts: dict[str, str], lang: str
) -> None:
    axes.set_title(title, fontsize=FONT_SIZE + 2, fontweight="bold", loc="left")
    axes.set_xticks(range(len(shown)), [p.label for p in shown], fontsize=FONT_SIZE)
    if not _fits(max(len(p.label) for p in shown), len(shown)):
        axes.tick_params(axis="x", labelrotation=45)
        for tick in axes.get_xticklabels():
            tick.set_horizontalalignment("right")
            tick.set_rotation_mode("anchor")
    axes.tick_params(axis="y", labelsize=FONT_SIZE)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: number(int(value), lang)))
    axes.set_xlabel(texts["x_axis"], fontsize=FONT_SIZE)
    axes.set_ylabel(texts["y_axis"], fontsize=FONT_SIZE)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#DDDDDD", linewidth=0.6)
    axes.set_axisbelow(True)
