"""The Mi.com sale modes' own writes, beside the one gate that every mode feeds.

- `reservations` (预约): who may buy in a reservation sale, or enter a draw.
- `fcodes` (F码): codes for loyal fans and the quota kept for them.
- `draws` (抽签): seeded, weighted winners, who get a purchase right each.
- `textbook`: the row-lock baseline (`SELECT ... FOR UPDATE`), measured against the gate.

A deposit pre-sale (定金) needs no writes of its own: its order pays the deposit, then the
balance in its window; `sales.services` checks the sale's terms, `shop.payments` takes both.
"""
