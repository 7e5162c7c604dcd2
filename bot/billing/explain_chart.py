"""The bill explanation's chart (issue 18): kWh per day over up to 13 periods, the
explained one dark, with the household tier thresholds and the price changes, as a PNG.

kWh per day, not kWh: periods differ by several days, and a customer compares how they
used electricity, not how long the reading period was. A tier's threshold in kWh per
day moves with the period's length (EVN's tiers are per month, whatever its days), so it
is drawn per period. Like charts.py, each call draws on its own Figure (thread-safe).
"""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from itertools import accumulate, pairwise

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from bot.billing import explain as bill_explain
from bot.billing.charts import (
    CURRENT_COLOUR,
    DPI,
    FONT_SIZE,
    SIZE_INCHES,
    YEAR_BEFORE_COLOUR,
)
from bot.billing.explain import Explanation
from bot.billing.tariffs import TariffBook
from bot.core.fmt import number
from bot.core.texts import Texts

CHART_KEYS = ("y_axis", "tier", "price_from")
TIER_COLOUR = "#C0392B"
PRICE_COLOUR = "#7F8C8D"


@dataclass(frozen=True)
class DayPoint:
    """One period on the chart: its label ("10/26"), kWh per day and days."""

    label: str
    kwh_per_day: float
    days: int


@functools.cache
def _texts(lang: str) -> dict[str, str]:
    texts = Texts.load()
    return {key: texts.get(f"explain.chart_{key}", lang) for key in CHART_KEYS}


def _decimal(value: float, lang: str) -> str:
    """One decimal (5,1 kWh a day); whole kWh with thousands once tenths do not matter."""
    if value >= 100:
        return number(round(value), lang)
    shown = f"{value:.1f}"
    return shown.replace(".", ",") if lang == "vi" else shown


def per_day_chart(
    points: Sequence[DayPoint],
    *,
    title: str,
    tier_sizes: Sequence[int] = (),
    households: int = 1,
    price_changes: Sequence[tuple[int, date]] = (),
    lang: str = "vi",
) -> bytes:
    """Bars of kWh per day, the last one dark; a dashed step line per tier threshold
    (household customers: `tier_sizes` per household per month) up to the first above
    every bar; a dotted line before each period index in `price_changes` with the
    date new prices took effect. A 1000 x 700 PNG.

    Raises:
        ValueError: no points to draw.
    """
    if not points:
        raise ValueError("the chart needs at least one period")
    texts = _texts(lang)
    # Fixed margins, not the constrained layout: it measures every label in an extra
    # draw, a third of the time, and this chart's labels do not vary in size.
    figure = Figure(figsize=SIZE_INCHES, dpi=DPI)
    figure.subplots_adjust(left=0.17, right=0.87, top=0.88, bottom=0.2)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    count = len(points)
    colours = [YEAR_BEFORE_COLOUR] * (count - 1) + [CURRENT_COLOUR]
    values = [p.kwh_per_day for p in points]
    axes.bar(range(count), values, 0.6, color=colours)
    top = max(max(values), 0.1)
    ceiling = top * 1.25
    for tier, boundary in enumerate(accumulate(tier_sizes), start=2):
        # Where tier `tier` starts, in kWh per day of each period.
        levels = [boundary * households / p.days for p in points]
        xs = [x for i in range(count) for x in (i - 0.5, i + 0.5)]
        ys = [level for level in levels for _ in (0, 1)]
        axes.plot(xs, ys, color=TIER_COLOUR, linewidth=0.8, linestyle="--")
        axes.annotate(
            texts["tier"].format(tier=tier),
            (count - 0.5, levels[-1]),
            xytext=(2, 0),
            textcoords="offset points",
            va="center",
            fontsize=FONT_SIZE - 1,
            color=TIER_COLOUR,
            annotation_clip=False,
        )
        ceiling = max(ceiling, max(levels) * 1.04)
        if min(levels) > top:
            break  # the first threshold above every bar is the last worth drawing
    for index, since in price_changes:
        axes.axvline(index - 0.5, color=PRICE_COLOUR, linewidth=0.8, linestyle=":")
        axes.annotate(
            texts["price_from"].format(date=since.strftime("%d/%m/%Y")),
            (index - 0.5, ceiling * 0.97),
            xytext=(2, 0),
            textcoords="offset points",
            va="top",
            fontsize=FONT_SIZE - 2,
            color=PRICE_COLOUR,
        )
    axes.annotate(
        _decimal(values[-1], lang),
        (count - 1, values[-1]),
        xytext=(0, 2),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=FONT_SIZE,
        color=CURRENT_COLOUR,
    )
    axes.set_ylim(0, ceiling)
    axes.set_xlim(-0.6, count - 0.4)
    # From the figure's left edge: the whole width for a long code.
    figure.suptitle(title, x=0.02, ha="left", fontsize=FONT_SIZE + 2, fontweight="bold")
    axes.set_xticks(range(count), [p.label for p in points], fontsize=FONT_SIZE - 1)
    if count > 7:
        axes.tick_params(axis="x", labelrotation=60)
    axes.tick_params(axis="y", labelsize=FONT_SIZE)
    axes.yaxis.set_major_locator(MaxNLocator(nbins=5))
    axes.yaxis.set_major_formatter(
        FuncFormatter(
            lambda value, _: (
                number(int(value), lang) if value == int(value) else _decimal(value, lang)
            )
        )
    )
    axes.set_ylabel(texts["y_axis"], fontsize=FONT_SIZE)
    axes.spines[["top", "right"]].set_visible(False)
    axes.grid(axis="y", color="#DDDDDD", linewidth=0.6)
    axes.set_axisbelow(True)
    buffer = io.BytesIO()
    # Light compression: a few KB more, encoded in a fraction of the time (issue 18's
    # budget is 300 ms for the explanation and its chart).
    figure.savefig(
        buffer, format="png", dpi=DPI, metadata={"Software": None}, pil_kwargs={"compress_level": 1}
    )
    return buffer.getvalue()


def explanation_chart(
    explanation: Explanation, book: TariffBook, *, title: str, lang: str = "vi"
) -> bytes:
    """The chart of an explanation: its bills' kWh per day, the tiers of the households
    on the meter, and the periods that began to be billed at new prices."""
    history = explanation.history
    points = [
        DayPoint(
            label=f"{b.month:02d}/{b.year % 100:02d}"
            if explanation.customer.terms_per_month == 1
            else f"K{b.term} {b.month:02d}",
            kwh_per_day=float(bill_explain.kwh_per_day(b)),
            days=bill_explain.days_of(b),
        )
        for b in history
    ]
    customer = explanation.customer
    changes: list[tuple[int, date]] = []
    for index, (before, bill) in enumerate(pairwise(history), start=1):
        old, _ = book.prices_on(before.period_end, customer.tariff_group, customer.voltage_level)
        new, _ = book.prices_on(bill.period_end, customer.tariff_group, customer.voltage_level)
        if new != old:
            changes.append((index, new))
    return per_day_chart(
        points,
        title=title,
        tier_sizes=explanation.tier_sizes,
        households=explanation.households,
        price_changes=changes,
        lang=lang,
    )
