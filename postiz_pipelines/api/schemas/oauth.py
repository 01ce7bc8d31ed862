"""Connect flows: the authorize URL, the callback's answer, the choice among several found
accounts, the form of the platforms that connect without a redirect, and account settings."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from postiz_pipelines.api.schemas.accounts import AccountOut
from postiz_pipelines.api.schemas.base import Id, In, Out


class AuthorizeOut(Out):
    platform: str
    url: str = Field(description="open it in a browser; the platform redirects to the callback")
    expires_in: int


class ChoiceOut(Out):
    id: str
    name: str


class ConnectOut(Out):
    platform: str
    accounts: list[AccountOut] = Field(description="stored (new or reconnected in place)")
    reconnected: list[Id] = Field(description="ids of accounts that existed and were reconnected")
    released_jobs: int = Field(description="held jobs due again after the reconnect")
    choices: list[ChoiceOut] = Field(
        description="when the consent reached several accounts (Pages, channels): choose with "
        "POST /api/postiz/oauth/{platform}/select"
    )


class SelectIn(In):
    state: str = Field(min_length=1, max_length=200)
    ids: list[str] = Field(min_length=1, max_length=50)


class SecretConnectIn(In):
    """Bluesky: ``handle`` and ``app_password``. Telegram: ``bot_token`` and ``chat_id``."""

    workspace_id: Id = Field(min_length=1, max_length=64)
    handle: str | None = Field(default=None, max_length=253)
    app_password: str | None = Field(default=None, max_length=200)
    bot_token: str | None = Field(default=None, max_length=200)
    chat_id: str | None = Field(default=None, max_length=200)


class AccountPatch(In):
    display_name: str | None = Field(default=None, max_length=200)
    language: str | None = Field(default=None, max_length=35, description="BCP-47, '' clears")
    settings: dict[str, Any] | None = Field(
        default=None, description="merged into the account's settings; a null value removes"
    )
