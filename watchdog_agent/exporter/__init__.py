"""Prometheus ``/metrics``: the container metric table and its rendering.

- ``table``: every family declared as data (name, help, type, extra labels, getter), with
  cAdvisor's exact ``container_*`` names and our ``watchdog_*`` names for the rest.
- ``render``: the exposition formats (Prometheus text 0.0.4 and OpenMetrics 1.0.0), the
  Accept-header negotiation and the fast text writer.
- ``collector``: the prometheus_client Collector over the latest Snapshot and the
  per-Snapshot cache that makes a scrape a concatenation of bytes.

Nothing here does I/O: a scrape is a read-only conversion of the latest Snapshot.
"""
