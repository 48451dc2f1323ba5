"""Helpers for the shop tests: racing real threads against the real database, API clients
with a token, and the storefront's forms as a browser posts them."""

from __future__ import annotations

import threading

from django.db import connection
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

PASSWORD = "correct-horse-battery"


def csrf_post(client: Client, url: str, data: dict | None = None, **extra):
    """POST as a browser does: with the token of the csrftoken cookie a form page set."""
    token = client.cookies["csrftoken"].value
    return client.post(url, {**(data or {}), "csrfmiddlewaretoken": token}, **extra)


def page(response) -> str:
    return response.content.decode()


def registration(**overrides) -> dict:
    """The storefront's registration form, filled in."""
    return {"username": "leijun", "password": PASSWORD, "phone": "13800138000",
            "recipient": "Lei Jun", "line1": "68 Qinghe Middle Street", "city": "Beijing",
            "postcode": "100085", **overrides}


def run_together(*calls):
    """Run each call in its own thread, released at once by a barrier; return results in order.

    A call's result is its return value or the exception it raised. Each thread closes its
    own database connection, as a request worker would.
    """
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def worker(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as error:
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a racing call never finished"
    return results


def bearer_client(user) -> APIClient:
    """An API client sending a fresh access token of `user`."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client
