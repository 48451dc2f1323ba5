"""The storefront's sale pages: server-rendered HTML over the same services as the API."""
