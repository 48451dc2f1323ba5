"""Words whose English is a word the catalogue already translates for something else.

The catalogue has one translation per English message: "orders" is the dashboard's column
of order counts (订单数), "payment" the replay's payment phase (付款期), "value" a rule's
measured value (实测值). A model or field named with the same English needs other Chinese.
`term` gives it its own message (a longer English the catalogue translates) while a page
in English still reads the word Django always showed.
"""

from __future__ import annotations

from django.utils.functional import lazy
from django.utils.translation import gettext


def _said(english: str, message: str) -> str:
    translated = gettext(message)
    return english if translated == message else translated


term = lazy(_said, str)
"""`term("orders", gettext_noop("orders (the order model)"))`: "orders" in English, the
catalogue's translation of the second message in another language (gettext_noop marks it
for makemessages)."""
