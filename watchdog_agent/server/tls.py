"""TLS for the server: a certificate and key serve HTTPS (TLS 1.2 or later); a client CA
also requires every client to present a certificate signed by it.

Built from a bare server context, not ``ssl.create_default_context``: for client
authentication that would trust the system's CAs too, and only the given CA may vouch
for clients. Every problem with the files is a UsageError naming the file.
"""

from __future__ import annotations

import ssl

from watchdog_agent.config import Settings
from watchdog_agent.errors import UsageError


def _why(exc: Exception) -> str:
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)


def server_context(settings: Settings) -> ssl.SSLContext | None:
    """The server's SSL context, or None when TLS is not configured."""
    cert, key, client_ca = settings.tls_cert, settings.tls_key, settings.tls_client_ca
    if cert is None:
        if key is not None or client_ca is not None:
            raise UsageError("--tls-key and --tls-client-ca need --tls-cert")
        return None
    if key is None:
        raise UsageError("--tls-cert needs --tls-key (the certificate's private key)")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.options |= ssl.OP_NO_COMPRESSION
    try:
        ctx.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError, ValueError) as exc:
        raise UsageError(
            f"cannot use the TLS certificate {cert} with the key {key}: {_why(exc)}"
        ) from exc
    if client_ca is not None:
        try:
            ctx.load_verify_locations(cafile=client_ca)
        except (OSError, ssl.SSLError, ValueError) as exc:
            raise UsageError(f"cannot use the TLS client CA {client_ca}: {_why(exc)}") from exc
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
