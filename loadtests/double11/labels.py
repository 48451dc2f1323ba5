"""The labels of the timeline's strips (phases, events): each measured with matplotlib's
renderer in the figure's own font, then put in lanes so that none overlaps another, however
short the phases and however close the events. Measuring, not guessing from the number of
characters, is what keeps the lanes right for Chinese widths too."""

from __future__ import annotations

from matplotlib.figure import Figure

LABEL_PT = 8
LANE_GAP_PX = 6.0                   # the least room between two labels of one lane


def lanes(boxes: list[tuple[float, float]], gap: float = LANE_GAP_PX) -> list[int]:
    """For each box (left, right), the first lane where it stays `gap` clear of every box
    already in that lane: no two boxes of a lane overlap, and no more lanes than needed."""
    taken: list[list[tuple[float, float]]] = []
    result = []
    for left, right in boxes:
        lane = next((n for n, placed in enumerate(taken)
                     if all(right + gap <= a or left >= b + gap for a, b in placed)),
                    len(taken))
        if lane == len(taken):
            taken.append([])
        taken[lane].append((left, right))
        result.append(lane)
    return result


class Axis:
    """Seconds from T0 to display pixels along the panels (their edges are fixed)."""

    def __init__(self, low: float, high: float, *, left_px: float, width_px: float) -> None:
        self.low, self.high = low, high
        self.left, self.width = left_px, width_px

    def px(self, t: float) -> float:
        return self.left + (t - self.low) / (self.high - self.low) * self.width

    def seconds(self, px: float) -> float:
        return self.low + (px - self.left) / self.width * (self.high - self.low)


def widths(fig: Figure, texts: list[str]) -> list[float]:
    """Each label's width in display pixels, from the renderer (it depends on the font and
    the dpi only, not on where the label will go)."""
    renderer = fig.canvas.get_renderer()
    result = []
    for text in texts:
        probe = fig.text(0, 0, text, fontsize=LABEL_PT)
        result.append(probe.get_window_extent(renderer).width)
        probe.remove()
    return result


def boxes(axis: Axis, anchors: list[tuple[float, float]], sizes: list[float]
          ) -> list[tuple[float, float]]:
    """A label in its span when it fits there (centred), else from the span's start; one
    that would pass the panels' right edge ends left of its moment (an event) or at the
    edge (a span)."""
    right_edge = axis.left + axis.width
    result = []
    for (start, end), width in zip(anchors, sizes, strict=True):
        a, b = axis.px(start), axis.px(end)
        left = (a + b - width) / 2 if b - a >= width + 4 else a + 3
        if left + width > right_edge:
            left = a - 3 - width if a == b else right_edge - width
        left = max(left, axis.left)
        result.append((left, left + width))
    return result
