"""Ticket ids: unguessable, and never handed out twice, across threads and forked workers."""

from __future__ import annotations

import os
import re
import threading

from sales.gate.keys import sale_id_of_ticket, ticket_new


def test_a_ticket_names_its_sale_and_carries_64_random_bits():
    ticket = ticket_new(42)
    assert re.fullmatch(r"42-[0-9a-f]{16}", ticket) and sale_id_of_ticket(ticket) == 42


def test_threads_drawing_at_once_never_share_a_ticket():
    drawn: list[list[str]] = [[] for _ in range(8)]

    def draw(mine: list[str]) -> None:
        mine.extend(ticket_new(1) for _ in range(2000))  # several 4 KiB pools each

    threads = [threading.Thread(target=draw, args=(mine,)) for mine in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [ticket for mine in drawn for ticket in mine]
    assert len(set(every)) == len(every) == 16000


def test_a_forked_worker_does_not_reuse_its_parents_random_bytes():
    """gunicorn forks its workers after the app is loaded: a pool inherited from the parent
    would hand out the same tickets in two processes (one order lost to the unique ticket)."""
    ticket_new(1)  # this thread's pool is filled before the fork
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            os.write(writer, " ".join(ticket_new(1) for _ in range(50)).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        theirs = set(pipe.read().split())
    os.waitpid(child, 0)
    ours = {ticket_new(1) for _ in range(50)}
    assert len(theirs) == 50 and not theirs & ours
