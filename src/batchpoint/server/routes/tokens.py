"""``/api/v1/tokens``: create (the secret is in this answer only), list and revoke tokens (owner only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from batchpoint.server.deps import Context, allow
from batchpoint.server.errors import ERROR_RESPONSES
from batchpoint.server.schemas import TokenCreate
from batchpoint.tokens.auth import Action, Principal
from batchpoint.tokens.service import NewToken, TokenInfo, TokenService

router = APIRouter(prefix="/tokens", tags=["tokens"], responses=ERROR_RESPONSES)
Admin = Annotated[Principal, Depends(allow(Action.admin))]


@router.get("", response_model=list[TokenInfo])
def list_tokens(ctx: Context, who: Admin) -> list[TokenInfo]:
    """Every token (never a secret), revoked and expired ones included."""
    return TokenService(ctx.workspace.db).list()


@router.post("", response_model=NewToken, status_code=201)
def create_token(body: TokenCreate, ctx: Context, who: Admin) -> NewToken:
    """A new token; store ``token`` now, it is not shown again."""
    service = TokenService(ctx.workspace.db, actor=who.actor)
    return service.create(
        body.role,
        name=body.name,
        endpoint=body.endpoint,
        invoke_only=body.invoke_only,
        expires=body.expires,
        grants=body.grants,
    )


@router.delete("/{token_id}", response_model=TokenInfo)
def revoke_token(token_id: Annotated[str, Path(max_length=64)], ctx: Context, who: Admin) -> TokenInfo:
    """Revoke a token at once (refused for the last active owner token)."""
    return TokenService(ctx.workspace.db, actor=who.actor).revoke(token_id)
