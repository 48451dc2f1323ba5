"""The fonts of the Chinese figure: matplotlib's default has no Han glyphs and would draw
boxes, so the Chinese timeline is drawn in the first CJK font installed on the machine, and
without one there is no Chinese figure (`loadtests.double11.figures.write` says so)."""

from __future__ import annotations

from matplotlib import font_manager

# Fonts with the Han glyphs, the first installed one used (CI installs fonts-wqy-microhei).
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
             "Droid Sans Fallback", "AR PL UMing CN")


def cjk_font() -> str | None:
    """The first installed font of CJK_FONTS (matplotlib's own list of the machine's fonts),
    or None."""
    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def font_style(font: str) -> dict:
    """matplotlib's settings for a figure in `font`: the Han glyphs from it, anything it
    lacks from matplotlib's default; an ASCII minus (not every CJK font has U+2212)."""
    return {"font.family": "sans-serif", "font.sans-serif": [font, "DejaVu Sans"],
            "axes.unicode_minus": False}
