"""Order numbers as a shopper reads them out on the phone: the date, then groups of four
("251203 8F3A 9C21 7B04"); the number stored, searched and sent by the API is unchanged."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def readable_number(number: str) -> str:
    head, rest = number[:6], number[6:]
    if not head.isdigit() or not rest:
        return number
    return " ".join([head, *(rest[i:i + 4] for i in range(0, len(rest), 4))])
