"""The catalogue's English, for the tests that check a Chinese page (the storefront's, the
ops admin's, the replay's report): every fixed piece of every message between its
placeholders, long enough to be a sentence of ours, must not show on a page in Chinese. One
reading of the catalogue for all of them, so that each check finds the same words."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import polib
from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]|\{\w*\}")


@cache
def english_sentences(*, shortest: int) -> tuple[str, ...]:
    """The pieces of at least `shortest` characters of every live message (singular and
    plural; fuzzy and untranslated ones too: Django shows those in English), whitespace
    folded and stray punctuation stripped at their ends."""
    pieces = set()
    for entry in polib.pofile(str(CATALOGUE)):
        if entry.obsolete:
            continue
        for msgid in filter(None, (entry.msgid, entry.msgid_plural)):
            for piece in PLACEHOLDER.split(msgid):
                piece = " ".join(piece.split()).strip(" .,:;()")
                if len(piece) >= shortest:
                    pieces.add(piece)
    return tuple(sorted(pieces))


def english_left(text: str, *, shortest: int) -> list[str]:
    """The catalogue's English sentences a page's visible text still shows, as words: a
    piece inside a longer word or a code ("reservation" in the rule reservation_burst_ip)
    is not that sentence shown, while one glued to Chinese ("付款Payment due at") is (the
    boundaries are ASCII ones: Python's \\w matches Han characters too)."""
    text = " ".join(text.split())
    folded = text.casefold()  # Django capitalises a field's name in a column's header
    return [piece for piece in english_sentences(shortest=shortest)
            if piece.casefold() in folded and re.search(
                rf"(?<![A-Za-z0-9_]){re.escape(piece)}(?![A-Za-z0-9_])", text, re.IGNORECASE)]
