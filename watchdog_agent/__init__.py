"""watchdog-agent: a monitoring and events agent for Docker hosts."""

__version__ = "0.1.0"
