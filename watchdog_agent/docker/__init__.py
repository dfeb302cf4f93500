"""The Docker Engine API client: unix socket, version negotiation, GET only.

Import the transports from their modules (``docker.client`` pulls in aiohttp, which
short-lived commands avoid through ``docker.lite``).
"""
