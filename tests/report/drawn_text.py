"""Every text a report's figures draw, as drawn into the saved PNG: is it inside the image, and does
a point label overlap another? Recorded while the real `wsnas report` saves its figures.

matplotlib draws a figure once more per `bbox_inches="tight"` save (to measure it); only the last
draw of each save is the image, so each Figure.draw starts the record afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest


@dataclass
class Drawn:
    """One saved figure: its file name, image size in pixels and the texts drawn into it."""

    name: str
    width: float = 0.0
    height: float = 0.0
    texts: list[tuple[str, Any, Any, bool]] = field(default_factory=list)
    """(text, extent in pixels, its axes, an annotation?)."""

    def clipped(self, tol: float = 1.0) -> list[str]:
        """Texts reaching past an edge of the image (cut off in the PNG)."""
        return [
            t
            for t, bb, _, _ in self.texts
            if bb.x0 < -tol or bb.y0 < -tol or bb.x1 > self.width + tol or bb.y1 > self.height + tol
        ]

    def overlapping(self) -> list[tuple[str, str]]:
        """Pairs of point labels (annotations) of one panel whose boxes overlap (one hides the other)."""
        notes = [(t, bb, ax) for t, bb, ax, ann in self.texts if ann]
        out = []
        for i, (ta, a, axa) in enumerate(notes):
            for tb, b, axb in notes[i + 1 :]:
                if axa is axb and a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1:
                    out.append((ta, tb))
        return out


@pytest.fixture
def drawn_figures(monkeypatch) -> list[Drawn]:
    """The figures saved while the test runs, each with the texts of its last (saved) draw."""
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation, Text

    saved: list[Drawn] = []
    current: list[Drawn | None] = [None]
    save, fig_draw, text_draw = Figure.savefig, Figure.draw, Text.draw

    def savefig(self, fname, *args, **kwargs):
        current[0] = Drawn(str(getattr(fname, "name", fname)).rsplit("/", 1)[-1])
        try:
            return save(self, fname, *args, **kwargs)
        finally:
            saved.append(current[0])
            current[0] = None

    def draw_figure(self, renderer):
        if current[0] is not None:
            current[0].texts.clear()
            current[0].width, current[0].height = renderer.get_canvas_width_height()
        return fig_draw(self, renderer)

    def draw_text(self, renderer):
        out = text_draw(self, renderer)
        rec = current[0]
        if rec is not None and self.get_visible() and self.get_text().strip():
            bb = Text.get_window_extent(self, renderer)  # the text alone (an annotation adds its line)
            rec.texts.append((self.get_text(), bb, self.axes, isinstance(self, Annotation)))
        return out

    monkeypatch.setattr(Figure, "savefig", savefig)
    monkeypatch.setattr(Figure, "draw", draw_figure)
    monkeypatch.setattr(Text, "draw", draw_text)
    return saved
