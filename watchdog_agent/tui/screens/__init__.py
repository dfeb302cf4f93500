"""dstats' screens beyond the main table (each pushed by a key on the main screen)."""
