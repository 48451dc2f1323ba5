"""Outside review of 0f6b6fd: does (L) ask Redis for the same work as the purchase (b)?"""

from __future__ import annotations

import io

import pytest

from sales.gate import hotline
from sales.tests.rush_harness import bearer


@pytest.mark.django_db(transaction=True)
def test_the_limit_sends_admit_lua_the_same_arguments_as_the_purchase(make_sale, customer,
                                                                      monkeypatch):
    """Cosmetic (the bias is towards a faster (L), so (b)/(L) is understated, not flattered):
    for the load generator's very request, (L) gives admit.lua `client` "{}" and a 19-char
    ticket without stamp or MAC, where the purchase gives client_of's JSON and a 48-char
    ticket (written into the ticket key, the queue entry, the ticket hash, the attempt). The
    docstring's "exactly the same work" is not quite so."""
    from loadtests import limit
    from sales.rush import RushPath
    from sales.tests.rush_harness import Counting, call

    sale = make_sale(stock=10, limit=5)
    seen = []
    real = hotline.HotLine.__call__

    def spy(self, *, keys, args, dataset_at=None):
        seen.append(list(args))
        return real(self, keys=keys, args=args, dataset_at=dataset_at)

    monkeypatch.setattr(hotline.HotLine, "__call__", spy)
    body = b'{"quantity": 1}'

    def environ(path):
        return {"REQUEST_METHOD": "POST", "PATH_INFO": path, "HTTP_HOST": "testserver",
                "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
                "HTTP_AUTHORIZATION": bearer(customer.user), "REMOTE_ADDR": "127.0.0.1",
                "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
                "SERVER_NAME": "testserver", "SERVER_PORT": "80"}

    call(RushPath(Counting()), environ(f"/api/v1/sales/{sale.pk}/purchase"))
    call(limit.application, environ(f"/limit/sales/{sale.pk}/admit"))
    purchase_args, limit_args = seen
    client, ticket = 13, 4  # ADMIT_ARGV slots
    assert limit_args[client] == purchase_args[client]
    assert len(limit_args[ticket]) == len(purchase_args[ticket])
