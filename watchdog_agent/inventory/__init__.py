"""Which containers exist: followed from Docker events, polled, or found by cgroup path,
and looked up by id, prefix or name."""
