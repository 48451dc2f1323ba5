"""The background work behind the gate, run by Celery.

- `orders`: drains each sale's ticket stream into orders, under the database's own guard
  (stock, per-buyer limit, F-codes) so that a stale gate can never oversell; its parts are
  `queue` (read and claim), `guard` (the database's word), `writes` and `publish`.
- `risk_feed`: drains the attempts stream into the anti-scalper rules and cancels what they
  block.
- `reconcile`: compares each gate with the database and corrects drift; rebuilds lost gates.
"""
