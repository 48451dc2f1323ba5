"""The replay's ops desk: a person on duty answering ring cases through the ops API.

Issue 16 keeps a claimed tie (a building, an address, a device header) from cancelling
anyone by itself: such a ring is a case for review, and only ops' answer (`POST
/api/v1/ops/sales/{id}/cases/{case}/confirm`) cancels its orders. So how many units a ring
keeps depends on ops being there, and a replay without them would measure a shop nobody
runs. The desk is modelled, not clairvoyant: it reads what the case API shows a person
(the identifiers that tie the members, and per member whether it was an established customer
when the sale opened, its orders before, its decisions) and never the replay's labels, and
it answers by a rule written down here:

- confirm a case tied by something other than a /24 subnet none of whose members is an
  established customer (an order paid for a month or more before the sale, outside a
  flagged sale): accounts that exist for this sale; unless it has a household's shape (at
  most four members on one exact address: a family signing up together looks so too);
- clear it when every member is an established customer;
- otherwise leave it open, as a careful person would: a customer in a case may be one whose
  details were copied (confirming would block it with the ring), and clearing releases the
  case's links for the rest of the sale.

It answers a case `read_s` after it first saw it (a person reads it; 60 s a case at full
speed, scaled with the replay's time) and polls the queue every `POLL_S`; a case it left
open is read again when it grows. Every answer is recorded (case, members, answer, when)
for the report, which names the desk and its rule.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO

import requests
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

HOUSEHOLD_MAX = 4  # as antiscalper.established
WEAK_TIES = frozenset({"subnet"})
POLL_S = 1.0
READ_S_FULL_SPEED = 60.0  # assumption: a minute to read one case and answer it


@dataclass(frozen=True)
class Answer:
    sale_id: int
    case_id: int
    members: tuple[int, ...]
    answer: str           # confirm, clear
    seen_at: float        # Unix s
    answered_at: float
    status: int           # the API's HTTP status


def _household_shaped(case: dict) -> bool:
    """At most HOUSEHOLD_MAX members, all on one exact address: a family as a case shows it
    (new accounts signing up together for a launch look so too)."""
    members = set(case.get("members", []))
    return len(members) <= HOUSEHOLD_MAX and any(
        link["kind"] == "address" and set(link.get("members", [])) == members
        for link in case.get("links", []))


def answer_for(case: dict) -> str | None:
    """The desk's rule over a case as `GET /api/v1/ops/sales/{id}/cases/{case}` shows it:
    confirm, clear, or None (left open)."""
    ties = {link["kind"] for link in case.get("links", [])} - WEAK_TIES
    accounts = case.get("accounts", [])
    if not ties or not accounts:
        return None
    settled = sum(1 for account in accounts if account.get("established"))
    if settled == len(accounts):
        return "clear"
    if settled or _household_shaped(case):
        return None
    return "confirm"


class OpsDesk(threading.Thread):
    """Polls the sales' open cases and answers each `read_s` after first seeing it."""

    def __init__(self, *, base: str, token: str, sale_ids: tuple[int, ...], read_s: float,
                 say: Callable[[str], None] = print) -> None:
        super().__init__(name="ops-desk", daemon=True)
        self.base, self.sale_ids, self.read_s, self.say = base, sale_ids, read_s, say
        self.answers: list[Answer] = []
        self.stopped = threading.Event()
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}",
                                     "Accept": "application/json"})
        self.seen: dict[tuple[int, int], float] = {}
        self.left: dict[tuple[int, int], list[int]] = {}  # left open, with the members read

    def run(self) -> None:
        while not self.stopped.is_set():
            for sale_id in self.sale_ids:
                try:
                    self._round(sale_id)
                except requests.RequestException as error:  # the stack may be restarting
                    self.say(f"ops desk: {error.__class__.__name__} on sale {sale_id}; "
                             f"trying again")
            self.stopped.wait(POLL_S)

    def _round(self, sale_id: int) -> None:
        listed = self.session.get(f"{self.base}/api/v1/ops/sales/{sale_id}/cases",
                                  params={"status": "open", "limit": 200}, timeout=10)
        if listed.status_code != 200:
            self.say(f"ops desk: the case list of sale {sale_id} answered "
                     f"{listed.status_code}; trying again")
            return
        now = time.time()
        for case in listed.json():
            key = (sale_id, case["id"])
            first = self.seen.setdefault(key, now)
            if now - first >= self.read_s and self.left.get(key) != case["members"]:
                self._answer(sale_id, case["id"], first)

    def _answer(self, sale_id: int, case_id: int, seen_at: float) -> None:
        path = f"{self.base}/api/v1/ops/sales/{sale_id}/cases/{case_id}"
        shown = self.session.get(path, timeout=10)
        if shown.status_code != 200:
            return
        case = shown.json()
        answer = answer_for(case)
        if answer is None:
            self.left[(sale_id, case_id)] = case["members"]
            return
        done = self.session.post(f"{path}/{answer}", json={"members": case["members"]},
                                 timeout=30)
        if done.status_code == 400:  # the case grew since it was read: read it again
            self.seen[(sale_id, case_id)] = time.time()
            return
        self.answers.append(Answer(sale_id, case_id, tuple(case["members"]), answer, seen_at,
                                   time.time(), done.status_code))
        self.say(f"ops desk: case #{case_id} of sale {sale_id} ({len(case['members'])} "
                 f"accounts) {answer}ed ({done.status_code})")


# The desk's rule in words (the report's pages say it in the reader's language: rule_said).
RULE = gettext_noop("confirm a case tied by more than a subnet when none of its members is an "
                    "established customer and it is no household's shape (at most {household} "
                    "on one address); clear it when all are; leave it open otherwise")


def rule_said(rule: str) -> str:
    """The record's rule in the active language (a rule of another desk: as written)."""
    if rule == RULE.format(household=HOUSEHOLD_MAX):
        return _(RULE).format(household=HOUSEHOLD_MAX)
    return _(rule) if rule else rule


def summary(answers: list[Answer], *, read_s: float) -> dict:
    """What the report says of the desk: its rule, and what it answered."""
    confirmed = [a for a in answers if a.answer == "confirm" and a.status == 200]
    cleared = [a for a in answers if a.answer == "clear" and a.status == 200]
    return {"rule": RULE.format(household=HOUSEHOLD_MAX),
            "read_s": round(read_s, 2),
            "confirmed_cases": len(confirmed),
            "confirmed_accounts": sum(len(a.members) for a in confirmed),
            "cleared_cases": len(cleared),
            "cleared_accounts": sum(len(a.members) for a in cleared),
            "answers": [{"sale": a.sale_id, "case": a.case_id, "members": list(a.members),
                         "answer": a.answer, "status": a.status,
                         "after_s": round(a.answered_at - a.seen_at, 2)} for a in answers]}


DESK_USER = "ops-desk"


def on_duty(*, base: str, sale_ids: tuple[int, ...], time_scale: float,
            say: Callable[[str], None] = print) -> OpsDesk:
    """Start the person on duty: a staff account of the "ops" group only, as
    `create_ops_user` makes it, reading and answering cases through the ops API."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.management import call_command
    from rest_framework_simplejwt.tokens import AccessToken

    call_command("setup_ops_group", stdout=StringIO())
    user, _ = get_user_model().objects.update_or_create(
        username=DESK_USER, defaults={"is_staff": True, "is_superuser": False})
    user.groups.set([Group.objects.get(name="ops")])
    read_s = max(2.0, READ_S_FULL_SPEED * time_scale)
    desk = OpsDesk(base=base, token=str(AccessToken.for_user(user)), sale_ids=sale_ids,
                   read_s=read_s, say=say)
    desk.start()
    say(f"ops desk on duty: answers each ring case {read_s:.1f} s after it opens "
        f"({READ_S_FULL_SPEED:.0f} s at full speed)")
    return desk
