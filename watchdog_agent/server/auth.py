"""Authentication: bearer tokens and HTTP basic auth (bcrypt hashes), either or both.

When any credentials are configured, every route (``/metrics`` and streams included)
needs them; ``auth_exempt_health`` lets ``/healthz`` and ``/readyz`` through. A request
without valid credentials gets 401 with a ``WWW-Authenticate`` challenge per scheme and
the usual ``{"error", "detail"}`` body.

Secrets never reach a log line or an answer: failures are logged by scheme only. The
credential files are read once, when the app is built, so a bad file is a startup
error. bcrypt runs in a thread (it costs tens of milliseconds by design), and a
successful check is remembered for ``CACHE_TTL`` seconds under an HMAC of the user and
password with a per-process random key, so a scraper does not pay bcrypt each time and
the cache holds no password.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import bcrypt
import structlog
from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from watchdog_agent.config import Settings
from watchdog_agent.errors import UsageError

from .errors import ApiError, error_response

log = structlog.get_logger("watchdog_agent.server")

REALM = "watchdog-agent"
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
CACHE_TTL = 60.0  # seconds a successful basic-auth check is remembered
CACHE_SIZE = 256  # remembered checks at most (oldest dropped first)
BCRYPT_THREADS = 4  # concurrent bcrypt checks (more wait: a flood cannot take every core)
_HASH = re.compile(rb"\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}")
_USER = re.compile(r"[^:\s]+")


# -- credential files -------------------------------------------------------------------


def _lines(path: str, what: str) -> list[tuple[int, str]]:
    """(line number, text) of the file's lines that are neither blank nor comments."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise UsageError(f"cannot read the {what} file {path}: {why}") from exc
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    found = [(n, line) for n, line in lines if line and not line.startswith("#")]
    if not found:
        raise UsageError(f"the {what} file {path} has no entries")
    return found


def read_tokens(path: str) -> tuple[bytes, ...]:
    """Bearer tokens, one a line; blank lines and ``#`` comments are skipped."""
    tokens = []
    for n, line in _lines(path, "auth token"):
        if any(c.isspace() for c in line) or not line.isascii():
            raise UsageError(f"{path} line {n}: a token is one word of ASCII characters")
        tokens.append(line.encode())
    return tuple(tokens)


def read_users(path: str) -> dict[str, bytes]:
    """``user:bcrypt-hash`` lines -> {user: hash}; the hash is checked, never shown."""
    users: dict[str, bytes] = {}
    for n, line in _lines(path, "basic auth"):
        user, sep, digest = line.partition(":")
        if not sep or not _USER.fullmatch(user):
            raise UsageError(f"{path} line {n}: expected user:bcrypt-hash")
        if not _HASH.fullmatch(digest.encode()):
            raise UsageError(f"{path} line {n}: the hash for {user!r} is not a bcrypt hash")
        if user in users:
            raise UsageError(f"{path} line {n}: user {user!r} appears twice")
        users[user] = digest.encode()
    return users


# -- checking credentials -------------------------------------------------------------


@dataclass
class Authenticator:
    """Checks an ``Authorization`` header against the configured tokens and users."""

    tokens: tuple[bytes, ...] = ()
    users: dict[str, bytes] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _cache: OrderedDict[bytes, float] = field(default_factory=OrderedDict, repr=False)
    _slots: asyncio.Semaphore = field(
        default_factory=lambda: asyncio.Semaphore(BCRYPT_THREADS), repr=False
    )

    @property
    def challenges(self) -> list[str]:
        """One ``WWW-Authenticate`` value per configured scheme."""
        out = [f'Bearer realm="{REALM}"'] if self.tokens else []
        if self.users:
            out.append(f'Basic realm="{REALM}", charset="UTF-8"')
        return out

    async def allows(self, header: str | None) -> bool:
        scheme, _, value = (header or "").strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if scheme == "bearer" and self.tokens:
            return self.token_ok(value.encode("utf-8", "replace"))
        if scheme == "basic" and self.users:
            return await self.basic_ok(value)
        return False

    def token_ok(self, token: bytes) -> bool:
        """Compared with every configured token, in constant time each."""
        ok = False
        for known in self.tokens:
            ok |= hmac.compare_digest(token, known)
        return ok

    async def basic_ok(self, value: str) -> bool:
        try:
            decoded = base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            return False
        user_b, sep, password = decoded.partition(b":")
        user = user_b.decode("utf-8", "replace")
        if not sep or len(password) > 72:  # bcrypt looks at 72 bytes at most
            return False
        key = hmac.new(self._key, user_b + b"\0" + password, hashlib.sha256).digest()
        now = self.clock()
        expires = self._cache.get(key)
        if expires is not None and expires > now:
            return True
        known = self.users.get(user)
        # an unknown user costs the same bcrypt run as a known one (no user probing)
        digest = known if known is not None else next(iter(self.users.values()))
        async with self._slots:
            ok = await asyncio.to_thread(bcrypt.checkpw, password, digest)
        if not (ok and known is not None):
            return False
        self._remember(key, now + CACHE_TTL)
        return True

    def _remember(self, key: bytes, expires: float) -> None:
        self._cache[key] = expires
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)


def authenticator(settings: Settings) -> Authenticator | None:
    """The configured credentials (files read now), or None when auth is off."""
    if not settings.auth_enabled:
        return None
    tokens = () if settings.auth_token_file is None else read_tokens(settings.auth_token_file)
    users = {} if settings.basic_auth_file is None else read_users(settings.basic_auth_file)
    return Authenticator(tokens, users)


def auth_middleware(auth: Authenticator, exempt: frozenset[str] = frozenset()) -> Middleware:
    """Answers 401 unless the request carries valid credentials (or its path is exempt).

    Put it first (outermost): unknown paths and methods get 401 too, not 404/405.
    """

    @web.middleware
    async def check_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get(hdrs.AUTHORIZATION)
        if request.path in exempt or await auth.allows(header):
            return await handler(request)
        word = (header or "").partition(" ")[0].lower()  # never the value: it may be secret
        scheme = word if word in ("bearer", "basic") else ("other" if header else None)
        log.info("unauthorized", path=request.path, scheme=scheme, remote=request.remote)
        detail = "valid credentials required: " + " or ".join(
            c.split(" ")[0] for c in auth.challenges
        )
        resp = error_response(ApiError(401, "unauthorized", detail))
        for challenge in auth.challenges:
            resp.headers.add(hdrs.WWW_AUTHENTICATE, challenge)
        return resp

    return check_auth


def exempt_paths(settings: Settings) -> frozenset[str]:
    return HEALTH_PATHS if settings.auth_exempt_health else frozenset()


# -- the OpenAPI side -----------------------------------------------------------------

SECURITY_SCHEMES: dict[str, Any] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "description": "a token from --auth-token-file",
    },
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "a user and password from --basic-auth-file (bcrypt hashes)",
    },
}
# either scheme when the agent has credentials configured; none ({}) when it has not
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"basicAuth": []}, {}]
UNAUTHORIZED: dict[str, Any] = {
    "description": "Credentials missing or wrong (only when auth is configured)",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
}


def declare_security(doc: dict[str, Any]) -> dict[str, Any]:
    """Add the schemes, and to every operation the requirement and its 401 answer."""
    doc.setdefault("components", {})["securitySchemes"] = copy.deepcopy(SECURITY_SCHEMES)
    for item in doc["paths"].values():
        for op in item.values():
            op["security"] = copy.deepcopy(SECURITY)
            op["responses"].setdefault("401", copy.deepcopy(UNAUTHORIZED))
    return doc
