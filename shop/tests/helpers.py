"""Helpers for racing real threads against the real database."""

from __future__ import annotations

import threading

from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken


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
