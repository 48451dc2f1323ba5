"""The store core: catalog, customers, addresses, orders and payments."""
