"""The sales API of docs/api.md: thin views over `sales.services` and `sales.selectors`."""
