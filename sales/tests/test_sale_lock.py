"""The sale's row lock, which pipeline batches, rebuilds, reconciliations, draws and ticket
settlements serialise on, is taken in one place: `sale_lock` for a sale known to exist,
`sale_locked` for one a request names (404 when there is none)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.errors import DomainError
from sales.models import FlashSale, sale_lock, sale_locked

SALES = Path(__file__).resolve().parents[1]
LOCK = re.compile(r"FlashSale\.objects\.select_for_update\(\)")


def test_the_sale_row_lock_is_written_only_beside_the_model():
    written = sorted(
        str(path.relative_to(SALES)) for path in SALES.rglob("*.py")
        if "tests" not in path.parts and LOCK.search(path.read_text()))
    assert written == ["models.py"]


def test_a_known_sale_is_locked_and_returned(db, make_sale):
    sale = make_sale(load=False)
    assert sale_lock(sale.pk) == sale == sale_locked(sale.pk)


def test_a_sale_that_does_not_exist_is_a_bug_for_sale_lock_and_a_404_for_sale_locked(db):
    with pytest.raises(FlashSale.DoesNotExist):
        sale_lock(987654)
    with pytest.raises(DomainError) as missing:
        sale_locked(987654)
    assert (missing.value.code, missing.value.status) == ("not_found", 404)
