"""Order aggregation (issue 9): pull every marketplace's orders into one stream, route each to
the nearest warehouse with stock, confirm shipments with the POST_ORDER_FULFILLMENT_DATA feed.

Modules: ``model`` (normalized values), ``geo`` (centroids, distances), ``warehouses``
(catalog ``warehouses.yaml``), ``state`` (local SQLite: cursor, orders, reservations,
confirmations), ``pull``, ``route``, ``confirm``.
"""
