"""Docker events: filters, time parsing, tap, journal and bus."""
