"""The kernel side: cgroup mode and discovery, pure parsers, readers, process trees, sampler."""
