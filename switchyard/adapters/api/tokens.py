"""API tokens: how they are made, stored (as hashes, never plain) and recognised.

A token is `sy_` and 43 characters of URL-safe base64: 256 random bits. The
settings hold only its SHA-256 (a slow password hash buys nothing for 256 random
bits, and would cost every request), with the actor it acts as, its scopes and,
optionally, the tenants it may see. A presented token is hashed and compared
with every configured hash in constant time, so neither the comparison nor the
number of tokens tried tells an attacker anything; tokens are never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

PREFIX = "sy_"
"""What every switchyard token starts with (so that scanners can recognise a leaked one)."""

HASH_PREFIX = "sha256:"
"""How a configured token hash starts."""


class Scope(StrEnum):
    """What a token may do."""

    PLANS_WRITE = "plans:write"
    PLANS_READ = "plans:read"
    AUDIT_READ = "audit:read"


class TokenSetting(BaseModel):
    """One configured token (an entry of SWITCHYARD_API_TOKENS)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hash: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")
    actor: str = Field(min_length=1)
    scopes: frozenset[Scope] = Field(min_length=1)
    tenants: frozenset[str] | None = None


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: the token's actor, scopes and tenant limit, and its hash's id."""

    actor: str
    scopes: frozenset[Scope]
    tenants: frozenset[str] | None
    token_id: str

    def may_see(self, tenant_id: str | None) -> bool:
        """Whether the token's tenant limit lets it see this tenant's things."""
        return self.tenants is None or tenant_id in self.tenants


def new_token() -> str:
    """A fresh token: 256 random bits."""
    return PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The hash a token is configured by."""
    return HASH_PREFIX + hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    """The configured tokens, looked up by a presented bearer token."""

    def __init__(self, settings: list[TokenSetting]) -> None:
        self._settings = list(settings)

    def __len__(self) -> int:
        return len(self._settings)

    def authenticate(self, presented: str) -> Principal | None:
        """The principal of a presented token, or None; every hash is compared."""
        digest = token_hash(presented).encode()
        found: TokenSetting | None = None
        for setting in self._settings:
            if hmac.compare_digest(digest, setting.hash.encode()):
                found = setting
        if found is None:
            return None
        token_id = found.hash.removeprefix(HASH_PREFIX)[:12]
        return Principal(found.actor, found.scopes, found.tenants, token_id)
