"""Names beside the points of a scatter plot, none on top of another and none cut off.

Points that coincide (two estimators with the same score and cost: `params` and `flops` on a
space where one decides the other) get one label, `flops, params`. Each label sits to the right
of its point, or to its left in the right part of the panel (so it does not run out of the
image); labels whose boxes would overlap are moved down, in order from the top, and a moved label
gets a thin line to its point. Positions are worked out in points on the laid-out figure, and
the labels take no part in the layout, so laying them out cannot move the points under them; the
figure is saved with everything it draws (`figures.save_figure`).
"""

from __future__ import annotations

from typing import Any

CHAR_WIDTH = 0.62
"""A character's width in font sizes (DejaVu Sans' average, digits and lower case)."""
LINE = 1.35
"""A label's height in font sizes, with the gap to the next."""


def label_points(fig: Any, ax: Any, points: list[tuple[float, float, str]], fontsize: float = 6.0) -> None:
    """Write each point's name beside it on AX (data coordinates), without overlaps.

    The figure must have its final size; it is laid out here once (`draw_without_rendering`)."""
    if not points:
        return
    fig.draw_without_rendering()
    scale = 72.0 / fig.dpi  # display pixels -> points
    box = ax.get_window_extent()
    x_mid = box.x0 * scale + 0.6 * box.width * scale
    merged: dict[tuple[int, int], tuple[float, float, float, float, list[str]]] = {}
    for x, y, text in points:
        px, py = (v * scale for v in ax.transData.transform((x, y)))
        key = (round(px / 2), round(py / 2))  # within about 2 points: one place
        if key in merged:
            merged[key][4].append(text)
        else:
            merged[key] = (x, y, px, py, [text])
    height = LINE * fontsize
    marker = 3.5  # half a marker's size, in points
    placed = [(px - marker, px + marker, py - marker, py + marker) for _, _, px, py, _ in merged.values()]
    x_end = (box.x1 + 0.02 * box.width) * scale  # a label may reach a little past the axes on the right

    def hitting(x0: float, x1: float, ly: float) -> list[float]:
        """The bottoms of the boxes a label at (X0..X1, LY) would overlap."""
        lo, hi = ly - height / 2, ly + height / 2
        return [b0 for a0, a1, b0, b1 in placed if x0 < a1 and a0 < x1 and lo < b1 and b0 < hi]

    for x, y, px, py, texts in sorted(merged.values(), key=lambda m: -m[3]):
        text = ", ".join(sorted(dict.fromkeys(texts)))
        width = CHAR_WIDTH * fontsize * len(text)
        sides = [False, True] if px + 4 + width <= x_end else [True]
        if px > x_mid:
            sides.reverse()
        left = next((side for side in sides if not hitting(*_span(px, width, side), py)), sides[0])
        x0, x1 = _span(px, width, left)
        ly = py
        while below := hitting(x0, x1, ly):  # under whatever it meets, in order from the top
            ly = min(below) - height / 2 - 0.5
        placed.append((x0, x1, ly - height / 2, ly + height / 2))
        shifted = abs(ly - py) > height / 2
        ann = ax.annotate(
            text,
            (x, y),
            xytext=(-4 if left else 4, ly - py),
            textcoords="offset points",
            ha="right" if left else "left",
            va="center",
            fontsize=fontsize,
            arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.5", "shrinkA": 0, "shrinkB": 3}
            if shifted
            else None,
        )
        ann.set_in_layout(False)


def _span(px: float, width: float, left: bool) -> tuple[float, float]:
    """A label's horizontal extent in points, to the left or the right of the point at PX."""
    return (px - 4 - width, px - 4) if left else (px + 4, px + 4 + width)
