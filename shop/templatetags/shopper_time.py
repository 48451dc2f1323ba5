"""`{{ moment|when }}`: a moment in a shopper's words and the page's language ("12月2日 10:00",
"2 Dec 10:00"), as `core.sentences.when` writes it for the sentences."""

from __future__ import annotations

from django import template

from core.sentences import when as _when

register = template.Library()


@register.filter
def when(moment) -> str:
    return _when(moment)
