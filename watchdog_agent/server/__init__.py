"""The HTTP server of ``watchdog-agent serve``: app factory, thin handlers, OpenAPI.

Handlers only parse parameters, call the agent and hand model values to the pure
conversions in ``documents``; errors leave through ``httperrors.error_middleware``.
"""
