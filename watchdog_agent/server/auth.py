"""Authentication: bearer tokens and HTTP basic auth (bcrypt hashes), either or both.

When any credentials are configured, every route (``/metrics`` and streams included)
needs them; ``auth_exempt_health`` lets ``/healthz`` and ``/readyz`` through. A request
without valid credentials gets 401 with a ``WWW-Authenticate`` challenge per scheme and
the usual ``{"error", "detail"}`` body.

Secrets never reach a log line or an answer: failures are logged by scheme only. The
credential files are read when the app is built, so a bad file is a startup error (and
so is a bcrypt cost too slow to check, or a token under MIN_TOKEN characters); a file
other users may read gets a warning. bcrypt runs in its own small pool with a queue
limit, wrong passwords are rate-limited per client address (both answer 429 at once:
see logins.py), and a successful check is remembered while the users file is unchanged,
under an HMAC of user and password with a per-process random key, so a scraper does not
pay bcrypt each time and the cache holds no password.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import math
import os
import re
import secrets
import stat
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from watchdog_agent.config import Settings
from watchdog_agent.errors import UsageError
from watchdog_agent.logsetup import get_logger

from .httperrors import ApiError, error_response
from .logins import BcryptPool, Busy, FailureLimiter, check_costs, measure_probe
from .tally import Tally

log = get_logger("watchdog_agent.server")

REALM = "watchdog-agent"
HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
CACHE_SIZE = 256  # remembered checks at most (oldest dropped first)
RECHECK = 1.0  # seconds between two looks at the users file (changed: read again)
MIN_TOKEN = 16  # characters a bearer token has at least
TOO_MANY_FAILURES = "too many failed logins"
QUEUE_FULL = "too many logins at once"
REFUSALS = {TOO_MANY_FAILURES: "too_many_failures", QUEUE_FULL: "queue_full"}  # tally keys
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
        if any(c.isspace() for c in line) or not line.isascii() or not line.isprintable():
            raise UsageError(f"{path} line {n}: a token is one word of printable ASCII")
        if len(line) < MIN_TOKEN:
            raise UsageError(
                f"{path} line {n}: a token has at least {MIN_TOKEN} characters "
                f"(this one has {len(line)}); make one with: openssl rand -hex 32"
            )
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


def file_signature(path: str) -> tuple[int, int, int] | None:
    """What tells a changed file: (inode, size, mtime in ns); None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class Authenticator:
    """Checks an ``Authorization`` header against the configured tokens and users.

    A successful basic-auth check is remembered (under an HMAC of user and password with
    a per-process random key: no password is kept) for as long as the users file is
    unchanged; a changed file is read again (at most every ``RECHECK`` seconds) and
    forgets every remembered check. ``close`` stops the bcrypt threads.
    """

    tokens: tuple[bytes, ...] = ()
    users: dict[str, bytes] = field(default_factory=dict)
    clock: Callable[[], float] = time.monotonic
    users_path: str | None = None
    pool: BcryptPool = field(default_factory=BcryptPool, repr=False)
    limiter: FailureLimiter = field(default_factory=FailureLimiter, repr=False)
    probe: float | None = None  # seconds of a bcrypt check at PROBE_COST (cost checks)
    refused: Tally = field(default_factory=lambda: Tally("logins refused"), repr=False)
    _key: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)
    _cache: OrderedDict[bytes, None] = field(default_factory=OrderedDict, repr=False)
    _token_macs: tuple[bytes, ...] = field(default=(), init=False, repr=False)
    _signature: tuple[int, int, int] | None = None
    _checked_at: float = -math.inf

    def __post_init__(self) -> None:
        self._token_macs = tuple(self._mac(token) for token in self.tokens)
        if self.users_path is not None:
            self._signature = file_signature(self.users_path)
            self._checked_at = self.clock()

    @property
    def challenges(self) -> list[str]:
        """One ``WWW-Authenticate`` value per configured scheme."""
        out = [f'Bearer realm="{REALM}"'] if self.tokens else []
        if self.users:
            out.append(f'Basic realm="{REALM}", charset="UTF-8"')
        return out

    async def allows(self, header: str | None, remote: str = "-") -> bool:
        """True for valid credentials; ApiError 429 when a password check is refused
        (too many failures from ``remote``, or too many checks waiting)."""
        scheme, _, value = (header or "").strip().partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if scheme == "bearer" and self.tokens:
            return self.token_ok(value.encode("utf-8", "replace"))
        if scheme == "basic" and self.users:
            return await self.basic_ok(value, remote)
        return False

    def token_ok(self, token: bytes) -> bool:
        """Compared with every configured token, in constant time each, as HMACs under
        the per-process key: both sides of every compare are 32 bytes, so not even a
        token's length shows in the time a wrong one takes."""
        given = self._mac(token)
        ok = False
        for known in self._token_macs:
            ok |= hmac.compare_digest(given, known)
        return ok

    def _mac(self, secret: bytes) -> bytes:
        return hmac.new(self._key, secret, hashlib.sha256).digest()

    async def basic_ok(self, value: str, remote: str = "-") -> bool:
        try:
            decoded = base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            return False
        user_b, sep, password = decoded.partition(b":")
        user = user_b.decode("utf-8", "replace")
        if not sep or len(password) > 72:  # bcrypt looks at 72 bytes at most
            return False
        self._refresh()
        key = self._mac(user_b + b"\0" + password)
        if key in self._cache:
            self._cache.move_to_end(key)
            return True
        if not self.limiter.allowed(remote):
            raise ApiError(429, TOO_MANY_FAILURES, "wait a few seconds and try again")
        known = self.users.get(user)
        # an unknown user costs the same bcrypt run as a known one (no user probing)
        digest = known if known is not None else next(iter(self.users.values()))
        try:
            ok = await self.pool.check(password, digest, self.limiter.suspect(remote))
        except Busy:
            self.limiter.failed(remote)  # an address that floods the queue waits its turn
            raise ApiError(429, QUEUE_FULL, "try again in a second") from None
        if ok and known is not None:
            self._remember(key)
            return True
        self.limiter.failed(remote)
        return False

    def _remember(self, key: bytes) -> None:
        self._cache[key] = None
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    def _refresh(self) -> None:
        """Read the users file again when it changed (looked at every RECHECK s)."""
        now = self.clock()
        if self.users_path is None or now - self._checked_at < RECHECK:
            return
        self._checked_at = now
        signature = file_signature(self.users_path)
        if signature == self._signature:
            return
        self._signature = signature
        self._cache.clear()
        try:
            users = read_users(self.users_path)
            self.probe = measure_probe() if self.probe is None else self.probe
            check_costs(self.users_path, users.items(), self.probe)
        except UsageError as exc:
            log.warning("basic auth file changed but unusable: keeping its users", reason=str(exc))
            return
        self.users = users
        log.info("basic auth file read again", path=self.users_path, users=len(users))

    def close(self) -> None:
        self.pool.close()
        self.refused.close()


def warn_if_readable(path: str, what: str) -> bool:
    """ssh's rule for keys, as a warning: a credential file should be its owner's alone."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    if mode & 0o077 == 0:
        return False
    log.warning(
        f"the {what} file is open to other users: chmod 600 it",
        path=path,
        mode=f"{stat.S_IMODE(mode):o}",
    )
    return True


def authenticator(settings: Settings) -> Authenticator | None:
    """The configured credentials (files read now), or None when auth is off."""
    if not settings.auth_enabled:
        return None
    tokens: tuple[bytes, ...] = ()
    users: dict[str, bytes] = {}
    probe = None
    if settings.auth_token_file is not None:
        tokens = read_tokens(settings.auth_token_file)
        warn_if_readable(settings.auth_token_file, "auth token")
    if settings.basic_auth_file is not None:
        users = read_users(settings.basic_auth_file)
        probe = measure_probe()
        check_costs(settings.basic_auth_file, users.items(), probe)
        warn_if_readable(settings.basic_auth_file, "basic auth")
    return Authenticator(tokens, users, users_path=settings.basic_auth_file, probe=probe)


def auth_middleware(auth: Authenticator, exempt: frozenset[str] = frozenset()) -> Middleware:
    """Answers 401 unless the request carries valid credentials (or its path is exempt).

    Put it first (outermost): unknown paths and methods get 401 too, not 404/405.
    """

    @web.middleware
    async def check_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        header = request.headers.get(hdrs.AUTHORIZATION)
        if request.path in exempt:
            return await handler(request)
        word = (header or "").partition(" ")[0].lower()  # never the value: it may be secret
        scheme = word if word in ("bearer", "basic") else ("other" if header else None)
        remote = request.remote or "-"
        try:
            if await auth.allows(header, remote):
                return await handler(request)
        except ApiError as exc:  # 429: a password check refused before bcrypt
            auth.refused.count(REFUSALS.get(exc.error, "other"))  # floods: counts, not lines
            return error_response(exc, {hdrs.RETRY_AFTER: "1"})
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
