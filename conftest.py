"""The suite's fixtures live in modules beside the apps they serve, registered here so that
every test, wherever it sits, can use them; helpers are imported from those modules by name
(`from shop.tests.fixtures import client_for`)."""

import pytest

pytest_plugins = [
    "shop.tests.fixtures",
    "antiscalper.tests.fixtures",
    "sales.tests.fixtures",
    "sales.web.tests.browser",
]


@pytest.fixture(autouse=True)
def database_connection_usable():
    """A test starts on a live database connection. The fault tests terminate PostgreSQL
    backends (`pg_terminate_backend`, as a failover does); a connection of this process they
    cut stays open in Django until it is used, and the next transactional test would start on
    it and fail on its first query. Outside a transaction, a dead one is closed here, so that
    Django opens a new one; within one (the `db` fixture's), nothing is touched."""
    from django.db import connection

    if (connection.connection is not None and not connection.in_atomic_block
            and not connection.is_usable()):
        connection.close()
    yield
