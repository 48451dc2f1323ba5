"""Outside review of the rush path (sales.rush): requests whose headers and negotiation it
answered otherwise than Django: Authorization parsing, a malformed Bearer header, an empty
Accept, settings it did not read (disallowed user agents, simplejwt's header settings, the
referrer policy), what the session and CSRF middlewares add. Each test runs one request
through both WSGI applications on twin worlds (sales.tests.rush_harness) and expects the same
status, headers and body, and the same number of attempts decided by the gate.

Every test here failed against the rush path as reviewed (commit 1bfcc5b); the docstrings
name the request, Django's answer and the rush path's."""

from __future__ import annotations

import re

import pytest
import rest_framework_simplejwt.authentication as simplejwt_authentication
import rest_framework_simplejwt.settings as simplejwt_settings

from sales.tests.rush_harness import (
    both,
    purchase,
    request,
    ticket_poll,
    token_of,
)

# ---- 1. Authorization parsing: str.split() is not bytes.split() ---------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("header", ["Bearer\xa0{t}", "\xa0Bearer {t}", "Bearer {t}\x85",
                                    "Bearer\x1c{t}"],
                         ids=["nbsp between", "nbsp before", "nel after", "x1c between"])
def test_non_ascii_whitespace_around_the_token_is_refused_as_simplejwt_refuses_it(
        twin_worlds, header):
    """SECURITY (low) / wrong answer. `Authorization: Bearer\\xa0<valid token>` (a WSGI
    environ holds header bytes as latin-1 text, so NBSP U+00A0, NEL U+0085 and U+001C-U+001F
    arrive as such): simplejwt splits the header as bytes (ASCII whitespace only), finds one
    part and refuses: Django 401 `unauthenticated` with WWW-Authenticate. The rush path
    splits it as str (Unicode whitespace), accepts the token and the gate admits: 202 queued.
    Two parsers disagreeing on one credential, and an attempt decided that Django refused."""
    rush, django = both(twin_worlds, lambda w: purchase(
        w, w.sale(), (user := w.buyer()), HTTP_AUTHORIZATION=header.format(t=token_of(user))))
    assert django[0][0].startswith("401")
    assert rush == django


# ---- 2. A malformed Bearer header: answered here, without WWW-Authenticate -----------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer {t},Bearer {t}"],
                         ids=["no token", "three parts", "two headers joined by a proxy"])
def test_a_malformed_bearer_header_gets_djangos_401_with_www_authenticate(twin_worlds, header):
    """Wrong answer (headers). `Authorization: Bearer` (or three parts, or two Authorization
    headers a server joined with a comma): simplejwt's get_raw_token raises
    AuthenticationFailed. Django: 401 with `WWW-Authenticate: Bearer realm="api"` (DRF sets
    exc.auth_header before the handler runs). The rush path calls get_raw_token outside its
    Handoff guard, so it answers itself (not the handoff the module promises for a bad
    token) through api_exception_handler(exc, {}): the same 401 body, no WWW-Authenticate."""
    rush, django = both(twin_worlds, lambda w: purchase(
        w, w.sale(), (user := w.buyer()), HTTP_AUTHORIZATION=header.format(t=token_of(user))))
    assert "www-authenticate" in django[0][1]
    assert rush == django


@pytest.mark.django_db(transaction=True)
def test_a_ticket_poll_with_a_bare_bearer_gets_www_authenticate(twin_worlds):
    """Wrong answer (headers), the ticket poll: `GET /api/v1/tickets/{t}` with
    `Authorization: Bearer`. Django 401 + WWW-Authenticate; the rush path 401 without."""
    rush, django = both(twin_worlds, lambda w: {**ticket_poll(w, settle=False),
                                                "HTTP_AUTHORIZATION": "Bearer"})
    assert rush == django


# ---- 3. An empty Accept header ------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["purchase", "ticket"])
def test_an_empty_accept_header_is_drfs_406(twin_worlds, route):
    """Wrong answer. `Accept:` present but empty (some HTTP clients send it so). DRF reads
    META.get('HTTP_ACCEPT', '*/*') == '', which no renderer satisfies: 406 `not_acceptable`,
    nothing decided. The rush path's `_accepts_json` treats '' like no header at all and
    answers: 202 queued (the gate decides an attempt Django refused) or 200 for the ticket."""
    def build(w):
        environ = purchase(w, w.sale()) if route == "purchase" else ticket_poll(w, settle=False)
        return {**environ, "HTTP_ACCEPT": ""}

    rush, django = both(twin_worlds, build)
    assert django[0][0].startswith("406")
    assert rush == django


# ---- 6. Settings the rush path does not read -----------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["purchase", "live"])
def test_disallowed_user_agents_are_refused_as_django_refuses_them(twin_worlds, settings,
                                                                    route):
    """SECURITY (config bypass). With DISALLOWED_USER_AGENTS = [re.compile("curl")] (the
    setting an operator reaches for against a bot wave), `User-Agent: curl/8.5` is refused
    by CommonMiddleware: 403. The rush path never looks: 202 queued (the bot buys) / 200."""
    settings.DISALLOWED_USER_AGENTS = [re.compile("curl")]

    def build(w):
        if route == "purchase":
            return purchase(w, w.sale(), HTTP_USER_AGENT="curl/8.5")
        return request("GET", f"/sales/{w.sale().pk}/live.json", HTTP_USER_AGENT="curl/8.5")

    rush, django = both(twin_worlds, build)
    assert django[0][0].startswith("403")
    assert rush == django


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("change", ["AUTH_HEADER_TYPES", "AUTH_HEADER_NAME"])
def test_simplejwts_header_settings_are_honoured(twin_worlds, settings, monkeypatch, change):
    """SECURITY (latent, config-dependent). `_settings_vouched_for` checks the algorithm,
    key, claims and token classes but not the header simplejwt reads: with
    SIMPLE_JWT["AUTH_HEADER_TYPES"] = ("JWT",) Django refuses `Authorization: Bearer <t>`
    (401), the rush path's hard-coded "Bearer" accepts it (202); with AUTH_HEADER_NAME =
    "HTTP_X_ACCESS_TOKEN" Django ignores Authorization altogether (401), the rush path
    still reads it (202). (simplejwt.authentication binds api_settings and computes
    AUTH_HEADER_TYPE_BYTES at import: patched here as a process started with that setting
    would have them.)"""
    if change == "AUTH_HEADER_TYPES":
        settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "AUTH_HEADER_TYPES": ("JWT",)}
        monkeypatch.setattr(simplejwt_authentication, "AUTH_HEADER_TYPES", ("JWT",))
        monkeypatch.setattr(simplejwt_authentication, "AUTH_HEADER_TYPE_BYTES", {b"JWT"})
    else:
        settings.SIMPLE_JWT = {**settings.SIMPLE_JWT, "AUTH_HEADER_NAME": "HTTP_X_ACCESS_TOKEN"}
    monkeypatch.setattr(simplejwt_authentication, "api_settings",
                        simplejwt_settings.api_settings)
    rush, django = both(twin_worlds, lambda w: purchase(w, w.sale()))
    assert django[0][0].startswith("401")
    assert rush == django


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", ["purchase", "live"])
def test_a_referrer_policy_with_spaces_is_normalised_as_securitymiddleware_does(
        twin_worlds, settings, route):
    """Cosmetic. SECURE_REFERRER_POLICY = "same-origin, strict-origin" (a comma-separated
    string, as Django documents it): SecurityMiddleware strips each value,
    `Referrer-Policy: same-origin,strict-origin`; the rush path copies the string as is,
    `same-origin, strict-origin`."""
    settings.SECURE_REFERRER_POLICY = "same-origin, strict-origin"

    def build(w):
        if route == "purchase":
            return purchase(w, w.sale())
        return request("GET", f"/sales/{w.sale().pk}/live.json")

    rush, django = both(twin_worlds, build)
    assert rush == django


# ---- 7. What the session and CSRF middlewares add ----------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route, cookie", [("purchase", "sessionid=x"), ("ticket", "sessionid="),
                                           ("live", "sessionid=x"), ("purchase", "csrftoken=x")])
def test_an_unusable_session_or_csrf_cookie_gets_djangos_set_cookie_and_vary(twin_worlds,
                                                                           route, cookie):
    """Cosmetic (but on a `Cache-Control: public` answer for live.json). A browser sends a
    session cookie that is empty or shorter than a session key (`Cookie: sessionid=x`):
    SessionMiddleware deletes it (`Set-Cookie: sessionid=""; Max-Age=0`) and adds
    `Vary: Cookie`; a malformed CSRF cookie (`Cookie: csrftoken=x`): CsrfViewMiddleware
    sets a new one and `Vary: Cookie`. The rush path sends neither. (Compared here: status,
    body, the header names and Vary; a new CSRF token is random.)"""
    def build(w):
        if route == "purchase":
            environ = purchase(w, w.sale())
        elif route == "ticket":
            environ = ticket_poll(w, settle=False)
        else:
            environ = request("GET", f"/sales/{w.sale().pk}/live.json")
        return {**environ, "HTTP_COOKIE": cookie}

    def shape(answer):
        (status, headers, body), attempts = answer
        return status, sorted(headers), headers.get("vary"), body, attempts

    rush, django = both(twin_worlds, build)
    assert "set-cookie" in django[0][1]
    assert shape(rush) == shape(django)


