"""Signed links to a one-field web form, and the key that signs them.

A link carries what the form needs (call, form, field, kind, label, the business the caller is
talking to) and a random token id, signed
with HMAC-SHA256 (itsdangerous, with a salt of its own) and timestamped. It is signed, not
encrypted: whoever holds the link can read those fields, so nothing secret goes in, and the value
typed into the form never does. Reading a link says precisely why it is refused: expired or not
valid (tampered, truncated, or signed with another key).

The key is the ``link_secret`` setting or, when that is empty, a random key generated once and kept
in ``<data_dir>/link-secret`` (mode 0600), so links survive a restart and every worker sharing the
data dir signs alike. The key is never logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from itsdangerous import BadData, SignatureExpired, Signer, TimestampSigner, URLSafeTimedSerializer

from ..clock import Clock, MonotonicClock
from ..errors import CallwrightError, ConfigError
from ..settings import Settings

log = logging.getLogger("callwright.links")
SALT = "callwright.form-link.v1"
SECRET_FILE = "link-secret"
MAX_TOKEN_CHARS = 2048
KINDS = ("address", "email", "phone", "text")  # the form's input; anything else is shown as text


class LinkError(CallwrightError):
    """A form link cannot be used."""

    category = "link"


class LinkExpired(LinkError):
    """The link was valid but is older than its maximum age."""


class LinkInvalid(LinkError):
    """The link was not made by this server (tampered, truncated, or signed with another key)."""


@dataclass(frozen=True, slots=True)
class LinkClaims:
    """What a valid link says."""

    call_id: str
    form: str
    field: str
    kind: str
    label: str
    token_id: str  # random, unique per link: the key that makes a link single-use
    issued_at: float  # Unix time
    business: str = ""  # who the caller is talking to (the agent's description or name), shown on the form


class _ClockSigner(TimestampSigner):
    clock: Clock = MonotonicClock()

    def get_timestamp(self) -> int:
        return int(self.clock.wall())


class _Serializer(URLSafeTimedSerializer):
    def __init__(self, secret: str, clock: Clock) -> None:
        super().__init__(secret, salt=SALT, signer=_ClockSigner, signer_kwargs={"digest_method": hashlib.sha256})
        self.clock = clock

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        signer = super().make_signer(salt)
        if isinstance(signer, _ClockSigner):
            signer.clock = self.clock
        return signer


class LinkSigner:
    """``make(...)`` a URL-safe token; ``read(token)`` it back or raise :class:`LinkError`."""

    def __init__(self, secret: str, max_age_s: int = 900, *, clock: Clock | None = None) -> None:
        if len(secret) < 16:
            raise ConfigError("the link secret must be at least 16 characters long")
        self.max_age_s = max_age_s
        self._serializer = _Serializer(secret, clock or MonotonicClock())

    def make(self, call_id: str, form: str, field: str, kind: str, label: str, *, business: str = "") -> str:
        payload = {"c": call_id, "f": form, "d": field, "k": kind, "l": label, "j": secrets.token_urlsafe(12)}
        if business:
            payload["b"] = business
        return str(self._serializer.dumps(payload))

    def read(self, token: str) -> LinkClaims:
        if len(token) > MAX_TOKEN_CHARS:
            raise LinkInvalid(f"link token of {len(token)} characters is longer than any link this server makes")
        try:
            payload, issued = self._serializer.loads(token, max_age=self.max_age_s, return_timestamp=True)
        except SignatureExpired:
            raise LinkExpired(f"link expired: links are valid for {self.max_age_s} s") from None
        except BadData:
            raise LinkInvalid("link is not valid: it was changed, cut short, or made with another key") from None
        try:
            return LinkClaims(
                call_id=str(payload["c"]),
                form=str(payload["f"]),
                field=str(payload["d"]),
                kind=str(payload["k"]),
                label=str(payload["l"]),
                token_id=str(payload["j"]),
                issued_at=issued.timestamp(),
                business=str(payload.get("b", "")),
            )
        except (KeyError, TypeError):
            raise LinkInvalid("link is not valid: its fields are incomplete") from None


def link_secret(settings: Settings) -> str:
    """The configured secret, else the one kept in ``<data_dir>/link-secret`` (made on first use)."""
    if settings.link_secret:
        return settings.link_secret
    if not settings.data_dir:
        log.warning("no link_secret and no data_dir: form links will not survive a restart")
        return secrets.token_urlsafe(32)
    return _secret_file(Path(settings.data_dir) / SECRET_FILE)


def _secret_file(path: Path) -> str:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        # Write a private temp file, then link it into place: atomic, and if another worker got
        # there first its key wins and ours is dropped.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".link-secret.")  # mode 0600
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32) + "\n")
            try:
                os.link(tmp, path)
                log.info("generated a form link secret in %s", path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path}: the link secret is readable by others (mode {stat.filemode(mode)}); run: chmod 600 {path}")
    secret = path.read_text().strip()
    if len(secret) < 16:
        raise ConfigError(f"{path}: the link secret is shorter than 16 characters; delete the file to make a new one")
    return secret


def signer_from(settings: Settings, *, clock: Clock | None = None) -> LinkSigner:
    return LinkSigner(link_secret(settings), settings.link_max_age_s, clock=clock)
