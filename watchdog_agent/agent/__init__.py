"""The ``serve`` runtime: wiring of the long-lived parts, the snapshot store and history,
post-mortems, and the process's gc and allocator settings."""
