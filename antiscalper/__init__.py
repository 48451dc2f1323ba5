"""Anti-scalper rules, risk decisions and the multi-identity blacklist."""
