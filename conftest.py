"""The suite's fixtures live in modules beside the apps they serve, registered here so that
every test, wherever it sits, can use them; helpers are imported from those modules by name
(`from shop.tests.fixtures import client_for`)."""

pytest_plugins = [
    "shop.tests.fixtures",
    "antiscalper.tests.fixtures",
    "sales.tests.fixtures",
    "sales.web.tests.browser",
]
