"""The check every Chinese page goes through (`core.tests.catalogue.english_left`) finds our
English however it is glued or capitalised, and not inside a code."""

from __future__ import annotations

from core.tests.catalogue import english_left, english_sentences


def test_english_is_found_glued_to_chinese_capitalised_and_not_inside_a_code():
    assert "payment due at" in english_sentences(shortest=11)
    assert english_left("订单 付款Payment due at：", shortest=11) == ["payment due at"]
    assert english_left("PAYMENT DUE AT", shortest=11) == ["payment due at"]
    assert english_left("规则 payment_due_at_rule", shortest=11) == []
    assert english_left("付款截止时间", shortest=11) == []
