"""A ring case's small graph as inline SVG, drawn on the server: no script, no network.

Members on the left, the identifiers that tie them (a building, a card by its fingerprint's
prefix, a device...) on the right, an edge from each member to each identifier it holds.
Solid edges are links strong enough to tie accounts; dashed ones only add to the
explanation (a shared subnet). Every label is escaped; only what ops may see is drawn.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

ROW = 26
TOP = 20
WIDTH = 720
MEMBER_X, LINK_X = 150, 470
MOST_MEMBERS, MOST_LINKS = 60, 40
LINK_MIN = 0.5  # as antiscalper.linking: the strength from which a link ties accounts
COLOURS = {"building": "#b45309", "address": "#b45309", "payment": "#7c3aed",
           "device": "#0369a1", "phone": "#047857", "verified_phone": "#047857",
           "phone_block": "#047857",
           "subnet": "#6b7280"}


def _label(text: str, limit: int) -> str:
    return escape(text if len(text) <= limit else text[:limit - 1] + "…")


def case_svg(*, members: list[tuple[int, str]], links: list[dict]) -> SafeString:
    """`members`: (user id, username); `links`: dicts with kind (as ops read it), code (the
    kind's code, which picks its colour; the kind when absent), shown, members, strength."""
    shown_members = members[:MOST_MEMBERS]
    shown_links = links[:MOST_LINKS]
    rows = max(len(shown_members), len(shown_links), 1)
    height = TOP * 2 + ROW * rows + (ROW if len(members) > MOST_MEMBERS
                                     or len(links) > MOST_LINKS else 0)
    y_member = {user_id: TOP + ROW * n + ROW // 2 for n, (user_id, _) in
                enumerate(shown_members)}
    offset = (len(shown_members) - len(shown_links)) * ROW // 2 if len(shown_members) > len(
        shown_links) else 0
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label="'
             f'{escape(_("Accounts of the case and the identifiers they share"))}" '
             f'style="font:12px sans-serif;background:#fff">']
    for n, link in enumerate(shown_links):
        y = TOP + offset + ROW * n + ROW // 2
        colour = COLOURS.get(link.get("code", link["kind"]), "#374151")
        dash = "" if link.get("strength", 0) >= LINK_MIN else ' stroke-dasharray="4 3"'
        for user_id in link["members"]:
            if user_id in y_member:
                parts.append(f'<line x1="{MEMBER_X}" y1="{y_member[user_id]}" x2="{LINK_X}" '
                             f'y2="{y}" stroke="{colour}" stroke-opacity="0.6"{dash}/>')
        parts.append(f'<rect x="{LINK_X}" y="{y - 9}" width="14" height="18" rx="3" '
                     f'fill="{colour}"/>')
        label = f"{link['kind']}: {link['shown']} ({len(link['members'])})"
        parts.append(f'<text x="{LINK_X + 20}" y="{y + 4}">{_label(label, 36)}</text>')
    for user_id, username in shown_members:
        y = y_member[user_id]
        parts.append(f'<circle cx="{MEMBER_X}" cy="{y}" r="7" fill="#dc2626"/>')
        parts.append(f'<text x="{MEMBER_X - 12}" y="{y + 4}" text-anchor="end">'
                     f'{_label(username, 20)}</text>')
    hidden = len(members) - len(shown_members), len(links) - len(shown_links)
    if any(hidden):
        more = _("and {accounts} more account(s), {links} more identifier(s), listed "
                 "below").format(accounts=hidden[0], links=hidden[1])
        parts.append(f'<text x="10" y="{height - 8}">{escape(more)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text is escaped above
