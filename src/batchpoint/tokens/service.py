"""Tokens of a workspace: create (shown once), list, revoke, verify, and the owner token of the first start.

Only the sha256 of a token's secret is stored. The service works on the metadata database alone,
so ``batchpoint token create --workspace W`` can mint a token on the server's machine even when
every owner token is lost.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from batchpoint.common import names
from batchpoint.common.text import shown
from batchpoint.common.timefmt import to_datetime
from batchpoint.errors import Conflict, InvalidInput, NotFound, Unauthorized
from batchpoint.store import Database
from batchpoint.store.tables import TokenRow
from batchpoint.tokens import auth
from batchpoint.tokens.auth import Principal, Role

_DURATION = re.compile(r"^(?P<n>[0-9]{1,6})(?P<unit>[smhdw])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_NAME = 100
MAX_LIFETIME_SECONDS = 3650 * 86400
"""Ten years: a longer lifetime is refused before anything is stored (``expires`` is an epoch float)."""
MAX_GRANTS = 20
_GRANT = re.compile(r"^azureml://datastores/[A-Za-z0-9][A-Za-z0-9_.-]{0,254}/paths/[^\x00]{0,1024}$")


class TokenInfo(BaseModel):
    """A token as ``token list`` shows it (never its secret)."""

    id: str
    name: str | None = None
    role: Role
    endpoint: str | None = None
    invoke_only: bool = False
    created_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    created_by: str | None = None
    grants: list[str] = Field(default_factory=list)
    """Datastore paths (URI prefixes) the token may read inputs from and write outputs to."""
    active: bool = True


class NewToken(TokenInfo):
    """A freshly created token: ``token`` is shown this once."""

    token: str


def parse_duration(value: str | None, field: str = "expires") -> float | None:
    """``30d``, ``12h``, ``15m``, ``90s``, ``2w`` to seconds; None or empty means never."""
    if value is None or value == "" or value == "never":
        return None
    match = _DURATION.match(value.strip())
    if not match or int(match.group("n")) == 0:
        raise InvalidInput(f"'{shown(value)}' is not a duration such as 30d, 12h, 15m or 2w", field=field)
    seconds = int(match.group("n")) * _UNITS[match.group("unit")]
    if seconds > MAX_LIFETIME_SECONDS:
        raise InvalidInput(f"'{value}' is longer than the longest lifetime, 3650d (ten years)", field=field)
    return seconds


def check_grants(values: list[str] | None) -> list[str]:
    """Datastore URI prefixes, each ending with ``/`` so that ``paths/app`` does not grant ``paths/app2``."""
    grants: list[str] = []
    for value in values or []:
        if not isinstance(value, str) or not _GRANT.match(value) or ".." in value.split("/"):
            raise InvalidInput(
                f"'{shown(str(value))}' is not a datastore path to grant; use azureml://datastores/<name>/paths/<folder>/",
                field="grants",
            )
        grants.append(value if value.endswith("/") else value + "/")
    if len(grants) > MAX_GRANTS:
        raise InvalidInput(f"at most {MAX_GRANTS} datastore paths may be granted to one token", field="grants")
    return grants


def _check_name(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > MAX_NAME or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.@-]*$", value):
        raise InvalidInput(
            f"invalid token name: use up to {MAX_NAME} letters, digits, '.', '_', '-' or '@'", field="name"
        )
    return value


class TokenService:
    """Tokens stored in one metadata database."""

    def __init__(self, db: Database, *, actor: str | None = None) -> None:
        self.db = db
        self.actor = actor

    def create(
        self,
        role: str,
        *,
        name: str | None = None,
        endpoint: str | None = None,
        invoke_only: bool = False,
        expires: str | None = None,
        grants: list[str] | None = None,
    ) -> NewToken:
        """Mint a token; the secret is in the result and nowhere else. Everything is validated before a write."""
        try:
            role_value = Role(role)
        except ValueError:
            raise InvalidInput(f"unknown role '{role}'; use owner, contributor or reader", field="role") from None
        name = _check_name(name)
        if endpoint is not None:
            names.endpoint_name(endpoint, "endpoint")
        if invoke_only and endpoint is None:
            raise InvalidInput(
                "an invoke-only token needs the endpoint it may invoke (--endpoint NAME)", field="endpoint"
            )
        if invoke_only and role_value is Role.reader:
            raise InvalidInput("an invoke-only token cannot have the reader role (readers cannot invoke)", field="role")
        lifetime = parse_duration(expires)
        granted = check_grants(grants)
        if granted and endpoint is None:
            raise InvalidInput(
                "datastore paths are granted to endpoint-scoped tokens (--endpoint NAME); "
                "an unscoped token reads every datastore its role allows",
                field="grants",
            )
        token_id, token = auth.new_token()
        return self._insert(token_id, token, role_value, name, endpoint, invoke_only, lifetime, granted)

    def _insert(
        self,
        token_id: str,
        token: str,
        role: Role,
        name: str | None,
        endpoint: str | None,
        invoke_only: bool,
        lifetime: float | None,
        grants: list[str] | None = None,
    ) -> NewToken:
        now = time.time()
        _, secret = auth.split_token(token)
        row = TokenRow(
            token_id=token_id,
            name=name,
            secret_hash=auth.digest(secret),
            role=role.value,
            endpoint=endpoint,
            invoke_only=invoke_only,
            created_at=now,
            expires_at=None if lifetime is None else now + lifetime,
            created_by=self.actor,
            grants=grants or None,
        )
        try:
            with self.db.session() as s:
                s.add(row)
                s.flush()
        except IntegrityError:
            raise Conflict("a token with this id already exists") from None
        return NewToken(token=token, **self._info(row).model_dump())

    def bootstrap(self, given: str | None) -> str | None:
        """On the first start (no token at all): store an owner token; returns it when it was generated here."""
        with self.db.read() as s:
            count = s.scalar(select(func.count()).select_from(TokenRow)) or 0
        if count:
            return None
        if given:
            token = auth.check_bootstrap(given)
            token_id, _ = auth.split_token(token)
            self._insert(token_id, token, Role.owner, "bootstrap", None, False, None)
            return None
        created = self.create("owner", name="bootstrap")
        return created.token

    def list(self, *, include_revoked: bool = True) -> list[TokenInfo]:
        with self.db.read() as s:
            rows = list(s.scalars(select(TokenRow).order_by(TokenRow.created_at, TokenRow.id)))
        infos = [self._info(r) for r in rows]
        return [i for i in infos if include_revoked or i.revoked_at is None]

    def revoke(self, token_id: str) -> TokenInfo:
        """Revoke at once; refused for the last active owner token (that would lock everyone out)."""
        if not re.match(r"^[0-9a-f]{16}$", token_id or ""):
            raise InvalidInput(f"'{token_id}' is not a token id (16 hex characters, see 'token list')", field="id")
        now = time.time()
        with self.db.session() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.token_id == token_id))
            if row is None:
                raise NotFound(f"token '{token_id}' does not exist", field="id", hint="see 'batchpoint token list'")
            if row.revoked_at is not None:
                return self._info(row)
            if row.role == Role.owner.value and self._active(row, now) and not row.endpoint:
                owners = [
                    r
                    for r in s.scalars(select(TokenRow).where(TokenRow.role == Role.owner.value))
                    if self._active(r, now) and not r.endpoint and not r.invoke_only
                ]
                if len(owners) <= 1:
                    raise Conflict(
                        "this is the last active owner token; create another owner token before revoking it",
                        field="id",
                    )
            row.revoked_at = now
            s.flush()
            return self._info(row)

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; ``Unauthorized`` (one message for every reason) otherwise."""
        token_id, secret = auth.split_token(token)
        with self.db.read() as s:
            row = s.scalar(select(TokenRow).where(TokenRow.token_id == token_id))
            if row is None:
                auth.burn_time(secret)
                raise Unauthorized("invalid, expired or revoked token")
            stored, role, name = row.secret_hash, row.role, row.name
            endpoint, invoke_only = row.endpoint, row.invoke_only
            grants = tuple(g for g in (row.grants or []) if isinstance(g, str))
            usable = self._active(row, time.time())
        if not auth.matches(secret, stored) or not usable:
            raise Unauthorized("invalid, expired or revoked token")
        try:
            role_value = Role(role)
        except ValueError:  # a row edited by hand: no access rather than a 500
            raise Unauthorized("invalid, expired or revoked token") from None
        return Principal(
            token_id=token_id, name=name, role=role_value, endpoint=endpoint, invoke_only=invoke_only, grants=grants
        )

    @staticmethod
    def _active(row: TokenRow, now: float) -> bool:
        return row.revoked_at is None and (row.expires_at is None or row.expires_at > now)

    def _info(self, row: TokenRow) -> TokenInfo:
        """The row as shown; a value out of range (a row from before lifetimes were bounded, or edited by
        hand) is shown as the nearest representable one, so one bad row never breaks listing or revoking."""
        try:
            role = Role(row.role)
        except ValueError:
            role = Role.reader
        return TokenInfo(
            id=row.token_id,
            name=row.name,
            role=role,
            endpoint=row.endpoint,
            invoke_only=bool(row.invoke_only),
            created_at=_safe_datetime(row.created_at),
            expires_at=_safe_datetime(row.expires_at),
            revoked_at=_safe_datetime(row.revoked_at),
            created_by=row.created_by,
            grants=[g for g in (row.grants or []) if isinstance(g, str)],
            active=self._active(row, time.time()),
        )


def _safe_datetime(epoch: float | None) -> datetime | None:
    if epoch is None:
        return None
    try:
        return to_datetime(epoch)
    except (OverflowError, OSError, ValueError):
        return datetime.max.replace(tzinfo=UTC) if epoch > 0 else datetime.min.replace(tzinfo=UTC)
