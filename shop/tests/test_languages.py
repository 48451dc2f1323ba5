"""The storefront speaks Simplified Chinese by default and English by choice (issue 18); the
API keeps its contract's English; the catalogue is whole and its compiled copy in step."""

from __future__ import annotations

import importlib
import io
import json
import re
from datetime import datetime
from pathlib import Path

import polib
import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone, translation

from core.errors import DomainError, ErrorCode, TicketReason
from core.sentences import APPEAL_HOW, SENTENCES, TICKET_REASONS, sentence_for, when

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")
CATALOGUE = Path(django_settings.BASE_DIR) / "locale" / "zh_Hans" / "LC_MESSAGES"
# Words of the English pages that must not be left on the Chinese ones.
ENGLISH_WORDS = ("Flash sales", "Log in", "Register", "Sold out", "Buy now", "My orders",
                 "Opens at", "left", "per shopper")


@pytest.fixture
def shipped_language(settings):
    """The storefront's language as shipped (the suite reads English: shop.tests.fixtures)."""
    settings.STOREFRONT_LANGUAGE = importlib.import_module("config.settings").STOREFRONT_LANGUAGE
    return settings.STOREFRONT_LANGUAGE


def _text(response) -> str:
    return response.content.decode()


def test_the_store_ships_speaking_simplified_chinese(shipped_language):
    assert shipped_language == "zh-hans"


def test_a_shopper_who_chose_nothing_reads_chinese_whatever_the_browser_sends(
        shipped_language, make_sale):
    sale = make_sale(starts_in=3600)
    for header in ("", "en-US,en;q=0.9", "de-DE", "zh-TW"):
        body = _text(Client(HTTP_ACCEPT_LANGUAGE=header).get(f"/sales/{sale.pk}/"))
        assert '<html lang="zh-CN">' in body and "开抢" in body, header
        visible = re.sub(r"<script.*?</script>", "", body, flags=re.S)
        assert not [w for w in ENGLISH_WORDS if w in visible], header


def test_the_switch_keeps_english_and_comes_back_to_the_page(shipped_language, make_sale):
    sale = make_sale()
    browser = Client()
    switched = browser.get(f"/language/en/?next=/sales/{sale.pk}/")
    assert switched.status_code == 302 and switched["Location"] == f"/sales/{sale.pk}/"
    assert switched.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "en"
    body = _text(browser.get(f"/sales/{sale.pk}/"))
    assert '<html lang="en">' in body and "On sale now" in body and "正在抢购" not in body
    assert 'href="/language/zh-hans/?next=' in body  # and back again
    back = browser.get("/language/zh-hans/?next=/")
    assert back.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert "限时抢购" in _text(browser.get("/"))


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x",
                                    "javascript:alert(1)", ""])
def test_the_switch_never_sends_a_shopper_elsewhere(shipped_language, target):
    response = Client().get("/language/en/", {"next": target})
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_language_we_do_not_speak_changes_nothing(shipped_language):
    response = Client().get("/language/fr/?next=/")
    assert response.status_code == 302
    assert django_settings.LANGUAGE_COOKIE_NAME not in response.cookies
    browser = Client()
    browser.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "klingon"
    assert "限时抢购" in _text(browser.get("/"))


def test_the_shared_page_is_cached_once_per_language(shipped_language, make_sale):
    sale = make_sale()
    chinese = Client().get(f"/sales/{sale.pk}/")
    english = Client()
    english.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
    in_english = english.get(f"/sales/{sale.pk}/")
    assert "正在抢购" in _text(chinese) and "On sale now" in _text(in_english)
    assert "正在抢购" in _text(Client().get(f"/sales/{sale.pk}/"))  # the cached Chinese copy
    assert "Cookie" in chinese["Vary"]


def test_the_countdowns_words_are_in_the_pages_language(shipped_language, make_sale):
    sale = make_sale(starts_in=3600)
    body = _text(Client().get(f"/sales/{sale.pk}/"))
    words = json.loads(re.search(r'<script id="live-words" type="application/json">(.*?)'
                                 r"</script>", body).group(1))
    assert words["opens_in"] == "距开抢 {t}" and words["sold_out"] == "已售罄"


def test_the_api_keeps_its_english_whatever_is_asked(shipped_language):
    response = Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get("/api/v1/orders")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert not CJK.search(response.json()["error"]["message"])


def test_every_refusal_and_ticket_reason_has_a_chinese_sentence():
    details = {"starts_at": "2030-01-01T10:00:00+08:00", "limit": 2, "retry_after": 7}
    with translation.override("zh-hans"):
        for code in ErrorCode:
            sentence = sentence_for(DomainError(code, "raw", details=details))
            assert CJK.search(sentence) and "{" not in sentence, code
        assert "7 秒" in sentence_for(DomainError("rate_limited", "", details=details))
        for reason in TicketReason:
            assert CJK.search(str(TICKET_REASONS[reason])), reason
        assert CJK.search(str(APPEAL_HOW))
    with translation.override("en"):
        assert str(SENTENCES[ErrorCode.SOLD_OUT]).startswith("Sold out")


def test_times_are_written_in_a_shoppers_words():
    this_year = timezone.localtime().year
    moment = timezone.make_aware(datetime(this_year, 12, 2, 10, 0))
    later = timezone.make_aware(datetime(this_year + 3, 1, 5, 9, 30))
    with translation.override("zh-hans"):
        assert when(moment) == "12月2日 10:00"
        assert when(later) == f"{this_year + 3}年1月5日 09:30"
    with translation.override("en"):
        assert when(moment) == "2 Dec 10:00"
        assert when(later) == f"5 Jan {this_year + 3} 09:30"


def test_the_catalogue_is_whole_and_its_compiled_copy_in_step():
    """Every message has its translation, keeps the placeholders of its English, and the .mo
    Django reads says exactly what the .po says (recompile with polib after an edit)."""
    source = polib.pofile(str(CATALOGUE / "django.po"))
    compiled = polib.mofile(str(CATALOGUE / "django.mo"))
    assert not source.untranslated_entries() and not source.fuzzy_entries()
    placeholder = re.compile(r"%\(\w+\)[sd]|\{\w+\}")
    assert not source.obsolete_entries()  # makemessages leaves removed messages as #~
    for entry in source:
        said = entry.msgstr or entry.msgstr_plural[0]
        assert sorted(placeholder.findall(said)) == sorted(placeholder.findall(entry.msgid)), \
            entry.msgid
    # keyed by (context, message): one English word may be two messages (pgettext)
    assert ({(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0) for e in source}
            == {(e.msgctxt, e.msgid): e.msgstr or e.msgstr_plural.get(0) for e in compiled
                if e.msgid})


def test_the_compile_command_writes_what_the_catalogue_says(tmp_path, settings):
    """`manage.py catalogue_compile` on a copy of the catalogue gives the .mo of the repository
    (so editing the .po and running it is all a translator does), and refuses a catalogue
    with a message left untranslated."""
    from django.core.management import CommandError, call_command

    copy = tmp_path / "zh_Hans" / "LC_MESSAGES"
    copy.mkdir(parents=True)
    (copy / "django.po").write_bytes((CATALOGUE / "django.po").read_bytes())
    settings.LOCALE_PATHS = [str(tmp_path)]
    call_command("catalogue_compile", stdout=io.StringIO())
    made = {e.msgid: e.msgstr for e in polib.mofile(str(copy / "django.mo"))}
    shipped = {e.msgid: e.msgstr for e in polib.mofile(str(CATALOGUE / "django.mo"))}
    assert made == shipped and len(made) > 100
    source = polib.pofile(str(copy / "django.po"))
    source.append(polib.POEntry(msgid="A new sentence nobody translated", msgstr=""))
    source.save()
    with pytest.raises(CommandError, match="no translation"):
        call_command("catalogue_compile")
