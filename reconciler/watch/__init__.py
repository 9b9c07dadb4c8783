"""``reconciler watch``: Amazon's notifications drive stock updates in seconds (issue 18).

Modules: ``events`` (SQS body -> validated :class:`~reconciler.watch.events.Event`, Amazon's
schemas), ``store`` (``watch.db``: duplicates, order event times, leases, write journal),
``sync`` (reservations; quantity PATCHes for the touched SKUs), ``feeds`` (feed finished ->
verification), ``worker`` (the SQS loop), ``shapes`` (Amazon-shaped notifications for the demo,
bench and tests); ``setup`` (``reconciler notifications setup``) is the Notifications API side.

**Correct under at-least-once delivery.** Every effect is idempotent, so a message done twice
does no harm: reservations are keyed by order id and computed once (absolute rows, not
increments); quantity writes carry absolute values recomputed from the catalog and every open
reservation; a notificationId already done is dropped (``watch.db``); an order notification
older than the one applied is ignored (``TimeOfOrderChange``). A message is deleted only after
its work (reservation, PATCHes, audit) is done, so a killed worker loses nothing: SQS delivers
its messages again after the visibility timeout.

**Many workers, no coordinator of our own.** N ``watch`` processes read one queue (SQS
competing consumers: each message goes to one of them at a time). What must not happen is two
workers writing the same listing at once, or one writing quantities computed before another's
reservation. (A SKU, not a listing, is the unit: its stock is allocated across every
seller and marketplace that lists it, so one order can change listings of another seller.)
Both are prevented by one rule: *a worker writes a SKU's listings only while it
holds that SKU's lease* in ``watch.db`` (SQLite in the shared state directory; taken
with ``BEGIN IMMEDIATE``, so check-and-set is atomic; leases expire after ``--lease-ttl`` so a
killed worker's lease frees itself). A worker takes its batch's leases in sorted order (no
circular wait), and only then rebuilds the desired state: every reservation committed before
it took the lease is counted, so the last writer of a SKU always writes the newest quantities.
A lease found lost before a write stops the batch (its messages return). The workers therefore
share the state directory: one host (a systemd template unit ``reconciler-watch@N``) or pods
sharing one volume on one node. (For workers on many hosts the same rule holds with the lease
in any store with an atomic compare-and-set; an SQS FIFO queue with ``MessageGroupId`` =
SKU would serialize per SKU too, but needs a second queue because Amazon delivers to a
standard queue.)

**Events merged per SKU.** A worker collects messages for ``--window`` seconds after the first
one, applies them all, then writes each touched SKU once.
"""
