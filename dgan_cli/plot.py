"""Line charts as PNG with Pillow alone (no plotting library is a dependency).

Enough for the curves the docs show: several named series of (x, y) points,
optionally with a spread band, linear axes with round tick values, a legend.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

COLOURS = ((31, 119, 180), (214, 39, 40), (44, 160, 44), (255, 127, 14), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127))


@dataclass
class Series:
    name: str
    x: Sequence[float]
    y: Sequence[float]
    spread: Sequence[float] | None = None  # half-width of a band around y (e.g. one std)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (steps of 1, 2, 2.5 or 5 x 10^k)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("axis limits must be finite")
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    first = math.floor(lo / step) * step
    ticks, value = [], first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(value, 12))
    return ticks


def _label(value: float) -> str:
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.0e}"
    return f"{value:g}"


def line_chart(series: Sequence[Series], path: str | Path, *, title: str, x_label: str, y_label: str,
               size: tuple[int, int] = (720, 440)) -> Path:
    """Draw the series into a PNG at `path` and return it."""
    from PIL import Image, ImageDraw

    if not series or not all(len(s.x) == len(s.y) and len(s.x) for s in series):
        raise ValueError("every series needs as many x as y values, and at least one")
    xs = [v for s in series for v in s.x]
    ys = [v + sign * (s.spread[i] if s.spread else 0) for s in series for i, v in enumerate(s.y)
          for sign in (-1, 1)]
    x_ticks, y_ticks = nice_ticks(min(xs), max(xs)), nice_ticks(min(ys), max(ys))
    left, right, top, bottom = 70, 190, 40, 55
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    legend = 38 + max(measure.textlength(s.name) for s in series) + 10  # the image widens to fit long names
    width, height = size[0] + max(0, int(legend) - right), size[1]
    right = max(right, int(legend))
    size = (width, height)
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)

    def to_px(x, y):
        fx = (x - x_ticks[0]) / (x_ticks[-1] - x_ticks[0])
        fy = (y - y_ticks[0]) / (y_ticks[-1] - y_ticks[0])
        return left + fx * (width - left - right), height - bottom - fy * (height - top - bottom)

    for t in y_ticks:
        _, py = to_px(x_ticks[0], t)
        draw.line([(left, py), (width - right, py)], fill=(225, 225, 225))
        draw.text((left - 8, py), _label(t), fill="black", anchor="rm")
    for t in x_ticks:
        px, _ = to_px(t, y_ticks[0])
        draw.line([(px, top), (px, height - bottom)], fill=(225, 225, 225))
        draw.text((px, height - bottom + 6), _label(t), fill="black", anchor="mt")
    draw.rectangle([left, top, width - right, height - bottom], outline="black")
    draw.text(((left + width - right) / 2, 14), title, fill="black", anchor="mt")
    draw.text(((left + width - right) / 2, height - 18), x_label, fill="black", anchor="mt")
    draw.text((8, top - 22), y_label, fill="black", anchor="lt")

    for k, s in enumerate(series):
        colour = COLOURS[k % len(COLOURS)]
        if s.spread:
            upper = [to_px(x, y + d) for x, y, d in zip(s.x, s.y, s.spread)]
            lower = [to_px(x, y - d) for x, y, d in zip(s.x, s.y, s.spread)]
            band = Image.new("RGB", size, "white")
            ImageDraw.Draw(band).polygon(upper + lower[::-1], fill=colour)
            mask = Image.new("L", size, 0)
            ImageDraw.Draw(mask).polygon(upper + lower[::-1], fill=50)
            image.paste(band, (0, 0), mask)
            draw = ImageDraw.Draw(image)
        points = [to_px(x, y) for x, y in zip(s.x, s.y)]
        if len(points) > 1:
            draw.line(points, fill=colour, width=2)
        for px, py in points:
            draw.ellipse([px - 3, py - 3, px + 3, py + 3], fill=colour)
        ly = top + 8 + 18 * k
        draw.line([(width - right + 12, ly), (width - right + 32, ly)], fill=colour, width=3)
        draw.text((width - right + 38, ly), s.name, fill="black", anchor="lm")
    path = Path(path)
    image.save(path)
    return path
