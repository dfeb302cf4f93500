"""Deployment tests: the container image, and the files under deploy/."""
