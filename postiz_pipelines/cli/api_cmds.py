"""Commands: serving the REST API, users and API tokens, workspace members.

``users create`` bootstraps a deployment: a user, their membership, and a token printed
once (it is stored only as a hash, so it cannot be shown again).
"""

from __future__ import annotations

from typing import Any

import click

from postiz_pipelines.cli.base import Env, emit, handles_errors, main, pass_env, write

ROLE_CHOICE = click.Choice(["owner", "admin", "editor", "viewer"])


@main.command("api")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=click.IntRange(1, 65535), show_default=True)
@pass_env
@handles_errors
def api(env: Env, host: str, port: int) -> None:
    """Serve the REST API (OpenAPI document at /docs)."""
    import uvicorn

    from postiz_pipelines.api import create_app

    uvicorn.run(create_app(env.app), host=host, port=port, log_level="info")


# -- users -----------------------------------------------------------------------------
@main.group()
def users() -> None:
    """People who use the API."""


@users.command("create")
@click.option("--email", required=True)
@click.option("--name", default="")
@click.option(
    "--workspace", "workspace_ref", default=None, help="Make the user a member of this workspace."
)
@click.option("--role", type=ROLE_CHOICE, default="owner", show_default=True)
@click.option("--token-name", default="bootstrap", show_default=True)
@click.option("--no-token", is_flag=True, help="Do not issue an API token.")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def users_create(
    env: Env,
    email: str,
    name: str,
    workspace_ref: str | None,
    role: str,
    token_name: str,
    no_token: bool,
    as_json: bool,
) -> None:
    """Create a user (and membership), and print an API token once."""
    from postiz_pipelines.core.workspaces import auth
    from postiz_pipelines.core.workspaces.store import get_workspace

    now = env.now()
    with write(env) as s:
        user = auth.create_user(s, email=email, name=name, now=now, actor="cli")
        ws = None
        if workspace_ref:
            ws = get_workspace(s, workspace_ref)
            auth.set_member(s, workspace_id=ws.id, user_id=user.id, role=role, now=now, actor="cli")
        issued = (
            None
            if no_token
            else auth.create_token(s, user_id=user.id, name=token_name, now=now, actor="cli")
        )
        row = {
            "id": user.id,
            "email": user.email,
            "workspace": ws.slug if ws else "",
            "role": role if ws else "",
            "token": issued.token if issued else "",
        }
    emit([row], as_json, ["id", "email", "workspace", "role"])
    if issued and not as_json:
        click.echo(f"\nAPI token (shown once, store it now):\n{issued.token}")


# -- tokens ----------------------------------------------------------------------------
@main.group()
def tokens() -> None:
    """API tokens (stored hashed; a token is shown only when created)."""


def token_row(t: Any) -> dict[str, Any]:
    return {
        "id": t.id,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": t.created_at.isoformat(),
        "last_used_at": t.last_used_at.isoformat() if t.last_used_at else "",
        "expires_at": t.expires_at.isoformat() if t.expires_at else "",
        "revoked_at": t.revoked_at.isoformat() if t.revoked_at else "",
    }


@tokens.command("create")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", default="cli", show_default=True)
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def tokens_create(
    env: Env, email: str, name: str, expires_in_days: int | None, as_json: bool
) -> None:
    from postiz_pipelines.core.workspaces import auth

    with write(env) as s:
        user = auth.get_user(s, email)
        issued = auth.create_token(
            s,
            user_id=user.id,
            name=name,
            now=env.now(),
            expires_in_days=expires_in_days,
            actor="cli",
        )
        row = {**token_row(issued.row), "token": issued.token}
    if as_json:
        emit([row], True, [])
    else:
        emit([row], False, ["id", "name", "prefix", "expires_at"])
        click.echo(f"\nAPI token (shown once, store it now):\n{issued.token}")


@tokens.command("list")
@click.option("--email", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def tokens_list(env: Env, email: str, as_json: bool) -> None:
    from postiz_pipelines.core.workspaces import auth

    with env.app.db.read() as s:
        rows = [token_row(t) for t in auth.list_tokens(s, auth.get_user(s, email).id)]
    emit(rows, as_json, ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"])


@tokens.command("revoke")
@click.argument("token_id")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def tokens_revoke(env: Env, token_id: str, as_json: bool) -> None:
    from postiz_pipelines.core.workspaces import auth

    with write(env) as s:
        row = token_row(
            auth.revoke_token(s, token_id=token_id, user_id=None, now=env.now(), actor="cli")
        )
    emit([row], as_json, ["id", "name", "revoked_at"])


# -- members ---------------------------------------------------------------------------
@main.group()
def members() -> None:
    """Who belongs to a workspace, with which role."""


@members.command("list")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def members_list(env: Env, workspace_ref: str, as_json: bool) -> None:
    from postiz_pipelines.core.workspaces import auth
    from postiz_pipelines.core.workspaces.store import get_workspace

    with env.app.db.read() as s:
        ws = get_workspace(s, workspace_ref)
        rows = [
            {"user_id": u.id, "email": u.email, "role": m.role}
            for m, u in auth.list_members(s, ws.id)
        ]
    emit(rows, as_json, ["user_id", "email", "role"])


@members.command("set")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--email", required=True)
@click.option("--role", type=ROLE_CHOICE, required=True)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def members_set(env: Env, workspace_ref: str, email: str, role: str, as_json: bool) -> None:
    """Add a user to a workspace, or change their role."""
    from postiz_pipelines.core.workspaces import auth
    from postiz_pipelines.core.workspaces.store import get_workspace

    with write(env) as s:
        ws = get_workspace(s, workspace_ref)
        user = auth.get_user(s, email)
        auth.set_member(
            s, workspace_id=ws.id, user_id=user.id, role=role, now=env.now(), actor="cli"
        )
    emit(
        [{"user_id": user.id, "email": user.email, "role": role}],
        as_json,
        ["user_id", "email", "role"],
    )


@members.command("remove")
@click.option("--workspace", "workspace_ref", required=True)
@click.option("--email", required=True)
@pass_env
@handles_errors
def members_remove(env: Env, workspace_ref: str, email: str) -> None:
    from postiz_pipelines.core.workspaces import auth
    from postiz_pipelines.core.workspaces.store import get_workspace

    with write(env) as s:
        ws = get_workspace(s, workspace_ref)
        user = auth.get_user(s, email)
        auth.remove_member(s, workspace_id=ws.id, user_id=user.id, now=env.now(), actor="cli")
    click.echo(f"removed {email} from {ws.slug}")
