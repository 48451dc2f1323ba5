"""The admin's login form is throttled like the API's token endpoint: per IP and per
username, a plain 429 page, never a 500 (issue 13.2). Rates per hour here: a minute's window
turning over between two guesses would let the fourth through and fail the test by chance."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
URL = "/admin/login/"


def _guess(client: Client, username: str, ip: str = "10.1.1.1"):
    return client.post(URL, {"username": username, "password": "wrong-guess"},
                       REMOTE_ADDR=ip)


def test_guessing_one_username_from_many_ips_is_stopped(settings, admin_user):
    settings.RATE_ADMIN_LOGIN_USERNAME = "3/h"
    answers = [_guess(Client(), admin_user.username, ip=f"10.0.0.{n}") for n in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[3]["Content-Type"].startswith("text/plain")
    assert answers[3]["Retry-After"]


def test_guessing_many_usernames_from_one_ip_is_stopped(settings):
    settings.RATE_ADMIN_LOGIN_IP = "3/h"
    client = Client()
    assert [_guess(client, f"user{n}").status_code for n in range(4)] == [200, 200, 200, 429]


def test_a_throttled_login_is_refused_even_with_the_right_password(settings, admin_user):
    settings.RATE_ADMIN_LOGIN_USERNAME = "1/h"
    client = Client()
    _guess(client, admin_user.username)
    response = client.post(URL, {"username": admin_user.username, "password": "password"})
    assert response.status_code == 429 and "_auth_user_id" not in client.session


def test_the_login_page_itself_is_never_counted(settings, admin_user):
    settings.RATE_ADMIN_LOGIN_IP = "1/h"
    client = Client()
    assert all(client.get(URL).status_code == 200 for _ in range(5))
    response = client.post(URL, {"username": admin_user.username, "password": "password"})
    assert response.status_code == 302
