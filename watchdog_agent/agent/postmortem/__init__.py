"""Post-mortems: capture on ``die`` from narrow parts, and their SQLite store."""
