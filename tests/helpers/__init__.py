"""Shared test helpers: the docker CLI, the agent console script, private engines."""
