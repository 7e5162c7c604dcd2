"""The consumption chart is a real phone-sized PNG; the change sentence reads right."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest
from matplotlib.image import imread

from bot.billing.charts import ChartPoint, change_in_words, chart_figure, consumption_chart

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TITLE = "Điện năng tiêu thụ – PC05CC0123456"


def year_of_points(shift: int = 0) -> list[ChartPoint]:
    """Twelve periods 11/2025 .. 10/2026 with the same periods a year earlier."""
    labels = [f"{m:02d}/2025" for m in (11, 12)] + [f"{m:02d}/2026" for m in range(1, 11)]
    kwh = [117, 132, 163, 160, 200, 212, 230, 155, 189, 134, 175, 215]
    before = [106, 120, 205, 187, 143, 215, 189, 90, 204, 148, 117, 171]
    return [
        ChartPoint(label, now + shift, then)
        for label, now, then in zip(labels, kwh, before, strict=True)
    ]


def pixels(png: bytes) -> tuple[int, ...]:
    return tuple(imread(io.BytesIO(png), format="png").shape)


def test_chart_is_a_phone_sized_png() -> None:
    png = consumption_chart(year_of_points(), title=TITLE)
    assert png.startswith(PNG_SIGNATURE)
    assert pixels(png) == (700, 1000, 4)  # 500 x 350 CSS px at 2x, RGBA


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("periods", [12, 3, 1])
def test_chart_text_is_at_least_12_px_on_a_390_px_wide_phone_regression(
    periods: int, lang: str
) -> None:
    """The chat shows the 1000 px wide PNG about 390 px wide on a phone: its 7 pt axis
    text was 7.6 px there, too small to read. Every text (ticks, axis names, legend,
    values) is now at least 12 px there, and none is cut off at the image's edge."""
    points = year_of_points()[-periods:]
    figure = chart_figure(points, title=TITLE, lang=lang)
    width_px, height_px = figure.get_figwidth() * figure.dpi, figure.get_figheight() * figure.dpi
    assert pixels(consumption_chart(points, title=TITLE, lang=lang))[:2] == (height_px, width_px)
    phone = 390 / width_px  # CSS px on the phone per PNG pixel
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    figure.draw(renderer)
    axes = figure.axes[0]
    legend = figure.legends[0]
    low, high = axes.get_ylim()
    ticks = [
        *axes.get_xticklabels(),
        *(t for t in axes.get_yticklabels() if low <= t.get_position()[1] <= high),  # drawn
    ]
    texts = [*ticks, axes.xaxis.label, axes.yaxis.label, *legend.get_texts(), *axes.texts]
    assert len(ticks) >= periods + 3 and all(t.get_text() for t in ticks)
    for text in texts:
        font_px = text.get_fontsize() * figure.dpi / 72 * phone
        assert font_px >= 12, (text.get_text(), round(font_px, 1))
        box = text.get_window_extent(renderer)
        assert box.height * phone >= 12, (text.get_text(), round(box.height * phone, 1))
        assert box.x0 >= 0 and box.x1 <= width_px and box.y0 >= 0 and box.y1 <= height_px, (
            text.get_text(),
            box,
        )


def test_different_data_gives_a_different_image() -> None:
    first = consumption_chart(year_of_points(), title=TITLE)
    assert consumption_chart(year_of_points(), title=TITLE) == first  # deterministic
    assert consumption_chart(year_of_points(shift=25), title=TITLE) != first
    assert consumption_chart(year_of_points(), title="Khác") != first
    assert consumption_chart(year_of_points(), title=TITLE, lang="en") != first


def test_few_periods_and_missing_year_before_values() -> None:
    points = [
        ChartPoint("08/2026", 134, None),
        ChartPoint("09/2026", 150, 120),
        ChartPoint("10/2026", 0, None),
    ]
    assert pixels(consumption_chart(points, title=TITLE)) == (700, 1000, 4)
    single = [ChartPoint("10/2026", 134, None)]
    assert pixels(consumption_chart(single, title=TITLE, lang="en")) == (700, 1000, 4)
    none_before = [ChartPoint(p.label, p.kwh, None) for p in year_of_points()]
    assert consumption_chart(none_before, title=TITLE).startswith(PNG_SIGNATURE)


def test_only_the_last_twelve_periods_are_drawn() -> None:
    older = [ChartPoint(f"{m:02d}/2025", 999, 999) for m in (8, 9, 10)]
    assert consumption_chart(older + year_of_points(), title=TITLE) == consumption_chart(
        year_of_points(), title=TITLE
    )


def test_large_consumption_still_renders() -> None:
    factory = [ChartPoint(p.label, p.kwh * 1000, None) for p in year_of_points()]
    assert pixels(consumption_chart(factory, title=TITLE)) == (700, 1000, 4)


def test_no_periods_is_refused() -> None:
    with pytest.raises(ValueError):
        consumption_chart([], title=TITLE)


def test_charts_drawn_in_parallel_threads_match_sequential_ones() -> None:
    # Handlers run the renderer with asyncio.to_thread, so several may draw at once.
    inputs = [year_of_points(shift) for shift in range(4)]
    sequential = [consumption_chart(points, title=TITLE) for points in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda points: consumption_chart(points, title=TITLE), inputs))
    assert parallel == sequential


def test_rendering_uses_neither_pyplot_nor_a_gui_backend() -> None:
    script = textwrap.dedent(
        """
        import sys
        from bot.billing.charts import ChartPoint, consumption_chart
        consumption_chart([ChartPoint("10/2026", 134, 120)], title="t")
        print("matplotlib.pyplot" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("current", "previous", "lang", "sentence"),
    [
        (150, 134, "vi", "Tăng 12% (16 kWh) so với kỳ trước."),
        (134, 150, "vi", "Giảm 11% (16 kWh) so với kỳ trước."),
        (134, 134, "vi", "Không đổi so với kỳ trước (134 kWh)."),
        (0, 0, "vi", "Không đổi so với kỳ trước (0 kWh)."),
        (134, 0, "vi", "Tăng 134 kWh so với kỳ trước (kỳ trước 0 kWh)."),
        (0, 134, "vi", "Giảm 100% (134 kWh) so với kỳ trước."),
        (2500, 1000, "vi", "Tăng 150% (1.500 kWh) so với kỳ trước."),
        (1001, 1000, "vi", "Tăng dưới 1% (1 kWh) so với kỳ trước."),
        (201, 200, "vi", "Tăng 1% (1 kWh) so với kỳ trước."),  # 0.5% rounds half up
        (150, 134, "en", "Up 12% (16 kWh) on the previous period."),
        (134, 150, "en", "Down 11% (16 kWh) on the previous period."),
        (134, 134, "en", "Unchanged from the previous period (134 kWh)."),
        (134, 0, "en", "Up 134 kWh on the previous period (0 kWh then)."),
        (2500, 1000, "en", "Up 150% (1,500 kWh) on the previous period."),
        (999, 1000, "en", "Down less than 1% (1 kWh) on the previous period."),
    ],
)
def test_change_in_words(current: int, previous: int, lang: str, sentence: str) -> None:
    assert change_in_words(current, previous, lang) == sentence


def test_change_in_words_refuses_negative_consumption() -> None:
    with pytest.raises(ValueError):
        change_in_words(-1, 10, "vi")
