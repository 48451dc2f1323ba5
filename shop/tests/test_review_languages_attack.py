"""An outside review of issue 18 (fa17a39): the storefront in Simplified Chinese by default,
English by the header's switch. Each test here fails on the reviewed code because of a defect
a shopper would meet; the docstrings say what they suffer."""

from __future__ import annotations

import html
import re

import pytest
from django.conf import settings as django_settings
from django.test import Client

from antiscalper import appeals
from antiscalper import services as antiscalper
from shop import sms
from shop.tests.helpers import page, registration

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture
def chinese(settings):
    """The storefront's shipped default (the suite's autouse fixture reads English)."""
    settings.STOREFRONT_LANGUAGE = "zh-hans"


def shopper(customer) -> Client:
    client = Client()
    client.force_login(customer.user)
    return client


def visible(response) -> str:
    """The page's text as a shopper reads it: no tags, no scripts."""
    body = re.sub(r"<script.*?</script>", "", page(response), flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def switch_link(response, code: str = "en") -> str:
    found = re.search(rf'href="(/language/{code}/\?next=[^"]*)"', page(response))
    assert found, "the page has no language switch"
    return html.unescape(found.group(1))


# ---- English left on the Chinese pages ------------------------------------------------------

def test_a_taken_username_is_explained_in_chinese(chinese, make_customer):
    """A shopper registering on the Chinese store with a name someone already has reads
    "用户名: already taken": the field's label is translated, the service's English reason
    is pasted after it (shop.services.customer_register's details go to the page as they
    are). They cannot tell what is wrong with the name."""
    make_customer(username="mifan2026")
    response = Client().post("/register/", registration(username="mifan2026",
                                                        phone="13900007777"))
    assert response.status_code == 400
    assert "already taken" not in visible(response)


def test_a_wrong_phone_code_is_explained_in_chinese(chinese, customer, sms_outbox):
    """A shopper confirming their phone types a wrong code and reads, on the Chinese page,
    "验证码: That code is wrong; 4 tries left.": the one sentence that tells them how many
    tries remain is English (shop.phones' details go to the page untranslated)."""
    client = shopper(customer)
    assert client.post("/account/phone/", {"action": "send"}).status_code == 302
    sent = re.search(r"\b(\d{6})\b", sms.last_to(customer.phone).message).group(1)
    wrong = "000000" if sent != "000000" else "111111"
    response = client.post("/account/phone/", {"code": wrong})
    assert response.status_code == 400
    assert "That code is wrong" not in visible(response)
    assert "tries left" not in visible(response)


def test_a_mistyped_phone_in_the_address_book_is_explained_in_chinese(chinese, customer):
    """A shopper adding a delivery address with a mistyped phone reads, on the Chinese page,
    "手机号: Enter a valid phone number." (shop.services.phone_normalize's English detail)."""
    response = shopper(customer).post("/account/addresses/", {
        "recipient": "李雷", "phone": "12-ab", "line1": "南京路 1 号", "city": "上海",
        "postcode": "200001"})
    assert response.status_code == 400
    assert "Enter a valid phone number" not in visible(response)

def test_the_text_message_speaks_the_shoppers_language(chinese, customer, sms_outbox):
    """A shopper on the Chinese store (the default: they never chose English) asks for a
    confirmation code; the page says in Chinese that a code was texted, and the text message
    itself arrives in English ("Your Mi Store code is ... Never share it."), including the
    warning not to share it."""
    client = shopper(customer)
    assert client.post("/account/phone/", {"action": "send"}).status_code == 302
    message = sms.last_to(customer.phone).message
    assert CJK.search(message), message


def test_the_nul_guard_page_is_all_chinese(chinese):
    """A query or form holding a NUL (a mangled paste, a bad link) gets the guard's 400
    page; on the Chinese store its one explanatory line reads
    "field: remove the NUL (\\x00) character" (core.middleware's English detail and an
    English field name the label table does not know)."""
    response = Client().get("/", {"q": "a\x00b"})
    assert response.status_code == 400
    text = visible(response)
    assert "remove the NUL" not in text and "field:" not in text


def test_the_outage_page_has_a_chinese_title(chinese, make_sale, gate_redis):
    """While Redis fails over, every shopper opening a sale gets the 503 page. On the Chinese
    store its heading and the browser tab read "Back in a moment"
    (core.error_handling._storefront_unavailable passes an untranslated title)."""
    sale = make_sale()
    gate_redis.server.stop()
    response = Client().get(f"/sales/{sale.pk}/")
    assert response.status_code == 503
    assert "Back in a moment" not in visible(response)


def test_a_bad_request_page_is_in_chinese(chinese):
    """A link with too many query parameters (over DATA_UPLOAD_MAX_NUMBER_FIELDS: a broken
    tracking link, a mangled share) gets Django's bare "Bad Request (400)" in English on
    the Chinese store: there is no 400 template among the storefront's error pages (404 and
    500 were translated, 400 was forgotten), and no way back to the sales."""
    query = "&".join(f"f{n}=1" for n in range(django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
                                              + 5))
    response = Client().get(f"/?{query}")
    assert response.status_code == 400
    assert "Bad Request" not in visible(response)
    assert CJK.search(visible(response))


def test_a_declined_card_is_explained_in_chinese(chinese, settings, customer, order):
    """A shopper whose card is declined reads "付款未成功（card declined by the issuer）":
    core.sentences puts the gateway's English reason into the Chinese sentence, the one part
    of it that says what went wrong."""
    settings.PAYMENT_GATEWAY_FAILURE_RATE = 1.0
    settings.PAYMENT_GATEWAY_LATENCY_MS = 0
    response = shopper(customer).post(f"/orders/{order.pk}/pay", {"key": "k-declined"})
    assert response.status_code == 402
    assert "card declined" not in visible(response)


# ---- the header's switch --------------------------------------------------------------------

def test_switching_language_on_a_refused_purchase_does_not_land_on_an_empty_page(
        chinese, make_sale, customer):
    """A shopper presses 立即购买 before the sale opens and gets the refusal page; they press
    "English" in the header to read it, and land on an empty 405 page: the switch comes back
    to the page's own address (request.get_full_path(): the POST-only /sales/<id>/buy), which
    a GET cannot open. The same on every refusal of a form (pay, cancel, reserve)."""
    sale = make_sale(starts_in=3600)
    client = shopper(customer)
    refused = client.post(f"/sales/{sale.pk}/buy", {"quantity": "1"})
    assert refused.status_code == 409
    landed = client.get(switch_link(refused), follow=True)
    assert landed.status_code == 200, landed.redirect_chain


def test_switching_language_on_a_refused_payment_does_not_land_on_an_empty_page(
        chinese, settings, customer, order):
    """A declined payment's page, then "English" in the header: the shopper lands on
    GET /orders/<id>/pay, a 405 with an empty body, instead of their order."""
    settings.PAYMENT_GATEWAY_FAILURE_RATE = 1.0
    settings.PAYMENT_GATEWAY_LATENCY_MS = 0
    client = shopper(customer)
    refused = client.post(f"/orders/{order.pk}/pay", {"key": "k-switch"})
    assert refused.status_code == 402
    landed = client.get(switch_link(refused), follow=True)
    assert landed.status_code == 200, landed.redirect_chain


# ---- the F-code box only where the sale has a quota -----------------------------------------

def test_a_draw_sale_asks_for_no_f_code(chinese, draw_sale, customer):
    """A draw sale's quota is its winners' purchase rights (sales.services.sale_create sets
    fcode_quota = stock for a draw), codes nobody types. The draw's page still tells every
    shopper "N units are kept for F-code holders: enter your code with your purchase" and
    shows an F-code box: a winner is told to enter a code they were never given."""
    sale = draw_sale(stock=2, closes_in=3600)
    body = page(shopper(customer).get(f"/sales/{sale.pk}/"))
    assert 'name="fcode"' not in body
    anonymous = page(Client().get(f"/sales/{sale.pk}/"))
    assert "F 码" not in anonymous and "F-code" not in anonymous


# ---- the blocked page and the appeal --------------------------------------------------------

def test_an_open_appeal_for_another_identity_does_not_hide_the_accounts_appeal(
        chinese, customer):
    """A shopper whose phone number was listed appealed for it (the API allows an appeal
    per identity); later their account is blocked too. The blocked page takes the phone's
    open appeal for "your appeal", hides the form and says there is no need to send
    another, yet nobody was asked to clear the account: the page's form (an account appeal)
    is the one way to ask, and it is gone."""
    appeals.appeal_submit(user_id=customer.user_id, kind="phone", message="My own number.")
    antiscalper.blacklist_add(kind="account", value=str(customer.user_id), reason="ring")
    body = page(shopper(customer).get("/appeal/"))
    assert 'action="/appeal/"' in body
    assert 'name="message"' in body

