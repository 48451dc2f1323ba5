"""Bar charts over time as inline SVG, drawn on the server: no plotting library is pinned
(the Double-11 report draws its own the same way), and the admin must work offline."""

from __future__ import annotations

from datetime import datetime
from html import escape

from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

BAR = "#417690"  # the admin's own blue
MAX_SLOT = 28


def bars_svg(*, title: str, points: list[tuple[datetime, int]], width: int = 580,
             height: int = 170) -> SafeString:
    """One bar per bucket of `points` ((start, count), evenly spaced), the largest count on
    the y axis and the first, middle and last bucket's time under the x axis."""
    left, right, top, bottom = 40, 10, 22, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    label = escape(title)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{label}">',
             f'<text x="{left}" y="14" font-size="12" font-weight="bold">{label}</text>']
    if not points:
        empty = escape(_("nothing yet"))
        parts.append(f'<text x="{left}" y="{top + plot_h / 2:.0f}" font-size="12" '
                     f'fill="#666">{empty}</text></svg>')
        return mark_safe("".join(parts))  # built from escaped text only
    peak = max(n for _, n in points) or 1
    slot = min(plot_w / len(points), MAX_SLOT)  # a few bars stay bars, not slabs
    for n, (start, count) in enumerate(points):
        h = plot_h * count / peak
        parts.append(f'<rect x="{left + n * slot + slot * 0.1:.1f}" y="{top + plot_h - h:.1f}" '
                     f'width="{max(slot * 0.8, 0.5):.1f}" height="{h:.1f}" fill="{BAR}">'
                     f'<title>{timezone.localtime(start):%H:%M}: {count}</title></rect>')
    axis_y = top + plot_h
    parts += [f'<line x1="{left}" y1="{axis_y}" x2="{left + plot_w}" y2="{axis_y}" '
              'stroke="#999"/>',
              f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end">{peak}</text>',
              f'<text x="{left - 4}" y="{axis_y}" font-size="10" text-anchor="end">0</text>']
    last = len(points) - 1
    # one label a bar: with fewer than three bars the start wins over the middle and the end
    ticks = dict([(last, "end"), (last // 2, "middle"), (0, "start")])
    for n, anchor in ticks.items():
        x = left + n * slot + (slot if anchor == "end" else slot / 2 if anchor == "middle"
                               else 0)
        when = timezone.localtime(points[n][0])
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 16}" font-size="10" '
                     f'text-anchor="{anchor}">{when:%H:%M}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # built from escaped text only
