"""The storefront's address book (issue 18 point 2): the default marked, add with 省/市/区,
edit, delete behind a confirmation, choose the default; problems next to their boxes;
another shopper's addresses are no page at all; checkout offers the default first."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from shop import address_book, services
from shop.models import Address
from shop.tests.helpers import csrf_post, page

pytestmark = pytest.mark.django_db

HOME = {"recipient": "雷军", "phone": "13800138011", "province": "北京市", "city": "北京市",
        "district": "海淀区", "line1": "清河中街68号", "postcode": "100085"}


@pytest.fixture
def shopper(make_customer):
    """A logged-in browser that sends CSRF tokens as a real one does, and its customer."""
    customer = make_customer(with_address=False)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(customer.user)
    browser.get("/account/addresses/")  # the csrftoken cookie
    return browser, customer


def _problem_beside(body: str, name: str) -> str:
    found = re.search(rf'<input name="{name}"[^>]*aria-invalid="true" '
                      rf'aria-describedby="problem-{name}">\s*<span class="field-error" '
                      rf'id="problem-{name}" role="alert">(.*?)</span>', body, flags=re.S)
    return found.group(1) if found else ""


def test_an_address_added_with_province_city_and_district_is_listed_as_the_default(shopper):
    browser, customer = shopper
    done = csrf_post(browser, "/account/addresses/", HOME)
    assert done.status_code == 302 and done["Location"] == "/account/addresses/"
    address = Address.objects.get(customer=customer)
    assert (address.province, address.district, address.is_default) == ("北京市", "海淀区", True)
    listed = page(browser.get("/account/addresses/"))
    assert f'<li class="address is-default" id="address-{address.pk}">' in listed
    assert "海淀区" in listed and '<span class="badge">Default</span>' in listed


def test_every_missing_or_wrong_box_says_so_beside_it_and_nothing_is_saved(shopper):
    browser, customer = shopper
    response = csrf_post(browser, "/account/addresses/",
                         {**HOME, "province": "", "district": "", "phone": "call me"})
    body = page(response)
    assert response.status_code == 400
    assert _problem_beside(body, "province") == "Needed for delivery."
    assert _problem_beside(body, "district") == "Needed for delivery."
    assert _problem_beside(body, "phone") and not _problem_beside(body, "city")
    assert "<li>Province: Needed for delivery.</li>" in body  # and in the summary above
    assert 'value="清河中街68号"' in body  # what was typed is kept
    assert not Address.objects.filter(customer=customer).exists()


def test_editing_saves_a_new_version_and_lists_only_it(shopper, sku):
    browser, customer = shopper
    address = services.address_create(customer=customer, **HOME)
    order = services.order_create(user_id=customer.user_id, lines=[(sku.pk, 1)],
                                  address_id=address.pk)
    form = page(browser.get(f"/account/addresses/{address.pk}/edit/"))
    assert 'name="district" value="海淀区"' in form
    done = csrf_post(browser, f"/account/addresses/{address.pk}/edit/",
                     {**HOME, "district": "昌平区", "line1": "回龙观西大街9号"})
    assert done.status_code == 302
    listed = page(browser.get("/account/addresses/"))
    assert "回龙观西大街9号" in listed and "清河中街68号" not in listed
    assert "Address saved." in listed
    assert "清河中街68号" in page(browser.get(f"/orders/{order.pk}/"))  # the order's own text


def test_a_bad_edit_says_which_box_and_changes_nothing(shopper):
    browser, customer = shopper
    address = services.address_create(customer=customer, **HOME)
    response = csrf_post(browser, f"/account/addresses/{address.pk}/edit/",
                         {**HOME, "postcode": "x" * 13})
    assert response.status_code == 400 and _problem_beside(page(response), "postcode")
    assert list(Address.objects.filter(customer=customer).values_list("pk", flat=True)) == [
        address.pk]


def test_deleting_asks_first_then_deletes_and_passes_the_default_on(shopper):
    browser, customer = shopper
    first = services.address_create(customer=customer, **HOME)
    newest = services.address_create(customer=customer, **{**HOME, "line1": "安宁庄路1号"})
    asked = page(browser.get(f"/account/addresses/{first.pk}/delete/"))
    assert "Delete this address?" in asked and "your newest other address" in asked
    assert Address.objects.get(pk=first.pk).deleted_at is None  # asking deleted nothing
    done = csrf_post(browser, f"/account/addresses/{first.pk}/delete/")
    assert done.status_code == 302
    assert Address.objects.get(pk=newest.pk).is_default
    listed = page(browser.get("/account/addresses/"))
    assert "清河中街68号" not in listed and f'id="address-{newest.pk}"' in listed


def test_choosing_the_default_moves_the_mark(shopper):
    browser, customer = shopper
    first = services.address_create(customer=customer, **HOME)
    other = services.address_create(customer=customer, **{**HOME, "line1": "安宁庄路1号"})
    listed = page(browser.get("/account/addresses/"))
    assert f'action="/account/addresses/{other.pk}/default"' in listed
    assert f'action="/account/addresses/{first.pk}/default"' not in listed  # already it
    csrf_post(browser, f"/account/addresses/{other.pk}/default")
    assert list(Address.objects.filter(customer=customer, is_default=True)
                .values_list("pk", flat=True)) == [other.pk]


def test_another_shoppers_address_has_no_page_and_cannot_be_changed(shopper, make_customer):
    browser, _ = shopper
    theirs = services.address_create(customer=make_customer(with_address=False), **HOME)
    for url in (f"/account/addresses/{theirs.pk}/edit/",
                f"/account/addresses/{theirs.pk}/delete/"):
        assert browser.get(url).status_code == 404
        assert csrf_post(browser, url, {**HOME, "line1": "mine"}).status_code == 404
    assert csrf_post(browser, f"/account/addresses/{theirs.pk}/default").status_code == 404
    theirs.refresh_from_db()
    assert (theirs.line1, theirs.deleted_at, theirs.is_default) == (HOME["line1"], None, True)


def test_a_form_without_its_csrf_token_changes_nothing(shopper):
    browser, customer = shopper
    address = services.address_create(customer=customer, **HOME)
    assert browser.post(f"/account/addresses/{address.pk}/delete/").status_code == 403
    assert Address.objects.get(pk=address.pk).deleted_at is None


def test_a_deleted_address_has_no_page(shopper):
    browser, customer = shopper
    address = services.address_create(customer=customer, **HOME)
    address_book.address_delete(user_id=customer.user_id, address_id=address.pk)
    assert browser.get(f"/account/addresses/{address.pk}/edit/").status_code == 404


def test_the_chinese_address_book_speaks_chinese(shopper, settings):
    settings.STOREFRONT_LANGUAGE = "zh-hans"
    browser, customer = shopper
    services.address_create(customer=customer, **HOME)
    services.address_create(customer=customer, **{**HOME, "line1": "安宁庄路1号"})
    body = page(browser.get("/account/addresses/"))
    for words in ("收货地址", "默认", "编辑", "删除", "设为默认", "省份", "城市", "区县",
                  "北京市海淀区 清河中街68号"):
        assert words in body, words
    assert not [w for w in ("Default", "Edit", "Delete", "Province", "District") if
                re.search(rf">\s*{w}\b", body)]


def test_checkout_offers_the_default_first_and_the_others_after(shopper, make_sale):
    browser, customer = shopper
    first = services.address_create(customer=customer, **HOME)
    other = services.address_create(customer=customer, **{**HOME, "line1": "安宁庄路1号"})
    address_book.address_default_set(user_id=customer.user_id, address_id=other.pk)
    sale = make_sale()
    body = page(browser.get(f"/sales/{sale.pk}/"))
    options = re.findall(r'<option value="(\d+)"( selected)?>', body)
    assert options == [(str(other.pk), " selected"), (str(first.pk), "")]
