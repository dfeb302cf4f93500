"""Prometheus ``/metrics``: the metric table and the writer that exposes it.

- ``table`` (and ``getters``): every family declared as data (name, help, type, extra
  labels, getter), with cAdvisor's exact ``container_*`` names and our ``watchdog_*``
  names for the rest.
- ``exposition``: the exposition formats (Prometheus text 0.0.4 and OpenMetrics 1.0.0),
  the Accept-header negotiation, the series identity (``id``, ``name``, ``image``) and the
  writer of every sample line.
- ``cache``: the per-Snapshot rendering cache that makes a scrape a concatenation of bytes.
- ``states``: the series about every container Docker knows, rendered per inventory change.
- ``scrape``: a scrape's body, in order, with the agent's own families.

Nothing here does I/O: a scrape is a read-only conversion of the latest Snapshot. The
tests hold a prometheus_client Collector over the same table (tests/helpers/oracle.py)
and check that this writer gives its bytes.
"""
