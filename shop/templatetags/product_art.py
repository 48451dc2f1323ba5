"""Product pictures drawn by the store itself (issue 18: images made by the project, no
network): an SVG per product, its shape by category (a phone, a TV, a band, a power bank),
its colour from its name, its name written on it. Inline, so a card costs no request."""

from __future__ import annotations

import hashlib

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

register = template.Library()

# Mi orange and the colours of its phones' backs.
PALETTE = ("#ff6700", "#2f3542", "#1e90ff", "#2ed573", "#a55eea", "#e1b12c", "#ff4757")

SHAPES = {
    "phone": '<rect x="70" y="18" width="60" height="112" rx="10" fill="{c}"/>'
             '<rect x="76" y="28" width="48" height="88" rx="4" fill="#fff" opacity=".85"/>'
             '<circle cx="100" cy="123" r="3" fill="#fff"/>',
    "tv": '<rect x="30" y="24" width="140" height="86" rx="6" fill="{c}"/>'
          '<rect x="37" y="31" width="126" height="72" rx="3" fill="#fff" opacity=".85"/>'
          '<rect x="90" y="110" width="20" height="10" fill="{c}"/>'
          '<rect x="70" y="120" width="60" height="6" rx="3" fill="{c}"/>',
    "wearable": '<rect x="88" y="12" width="24" height="124" rx="12" fill="{c}" opacity=".6"/>'
                '<rect x="80" y="48" width="40" height="52" rx="14" fill="{c}"/>'
                '<rect x="86" y="56" width="28" height="36" rx="8" fill="#fff" opacity=".85"/>',
    "power": '<rect x="58" y="34" width="84" height="84" rx="14" fill="{c}"/>'
             '<path d="M104 50 L86 80 H100 L94 104 L116 70 H101 Z" fill="#fff"/>',
}
DEFAULT_SHAPE = ('<circle cx="100" cy="72" r="48" fill="{c}"/>'
                 '<circle cx="100" cy="72" r="30" fill="#fff" opacity=".85"/>')


def colour_of(name: str) -> str:
    """The same product always in the same colour, whoever renders it."""
    return PALETTE[hashlib.sha256(name.encode()).digest()[0] % len(PALETTE)]


def product_svg(*, name: str, category: str) -> SafeString:
    """The product's picture: safe to put in a page (the name is escaped)."""
    colour = colour_of(name)
    shape = SHAPES.get(category, DEFAULT_SHAPE).format(c=colour)
    label = escape(name[:24])
    return mark_safe(
        '<svg class="art" viewBox="0 0 200 160" role="img" aria-label="' + label + '" '
        'xmlns="http://www.w3.org/2000/svg">'
        '<rect width="200" height="160" rx="12" fill="#f4f4f6"/>' + shape
        + '<text x="100" y="152" text-anchor="middle" font-size="12" fill="#6e6e73">'
        + label + "</text></svg>")


@register.simple_tag
def product_art(product) -> SafeString:
    return product_svg(name=product.name, category=product.category)
