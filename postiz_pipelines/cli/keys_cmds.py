"""``postiz-pipelines keys``: make a new encryption key, re-seal every secret with it, and see
which keys still seal something (a key nothing uses any more may be removed)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import click

from postiz_pipelines.cli.base import Env, emit, fail, handles_errors, main, pass_env


@main.group()
def keys() -> None:
    """Encryption keys of the secrets at rest (tokens, client secrets, webhook secrets)."""


@keys.command("generate")
@click.option("--kid", default=None, help="Key id (letters and digits); default k<UTC time>.")
@pass_env
@handles_errors
def keys_generate(env: Env, kid: str | None) -> None:
    """Make a new key that seals from now on; old keys keep opening what they sealed.

    With POSTIZ_ENCRYPTION_KEY set, prints the new entry to put first in it. Without it, the
    new key is put first in the data dir's key file. Then run `keys rotate`.
    """
    from postiz_pipelines.crypto import Keyring

    kid = kid or f"k{datetime.now(UTC):%Y%m%d%H%M%S}"
    if not kid.isalnum():
        fail(f"--kid: {kid!r} must be letters and digits only")
    settings = env.settings
    spec = Keyring.generate_spec(kid)
    if settings.encryption_key is not None:
        known = Keyring.parse(settings.encryption_key.get_secret_value())
        if kid in known.kids:
            fail(f"--kid: POSTIZ_ENCRYPTION_KEY already has a key {kid!r}")
        click.echo(spec)
        click.echo(
            f"put it first in POSTIZ_ENCRYPTION_KEY ({kid}:...,<the keys you have>), restart, "
            "then run `postiz-pipelines keys rotate`",
            err=True,
        )
        return
    path = settings.data_dir.resolve() / "encryption.key"
    existing = path.read_text().strip() if path.exists() else ""
    if existing and kid in {p.split(":", 1)[0] for p in existing.split(",")}:
        fail(f"--kid: {path} already has a key {kid!r}")
    Keyring.parse(spec + ("," + existing if existing else ""))  # refuse a broken file
    tmp = path.with_suffix(".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(spec + ("," + existing if existing else "") + "\n")
    os.replace(tmp, path)
    click.echo(f"key {kid} now seals (in {path}); run `postiz-pipelines keys rotate`")


@keys.command("rotate")
@click.option("--batch-size", default=200, type=click.IntRange(1, 10_000), show_default=True)
@click.option(
    "--max-batches", default=None, type=click.IntRange(1), help="Stop after this many batches."
)
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def keys_rotate(env: Env, batch_size: int, max_batches: int | None, as_json: bool) -> None:
    """Re-seal every sealed value with the primary (first) key, in batches; run it again to
    resume. Reports counts per field, then how many values each key still seals."""
    from postiz_pipelines.core.accounts.keys import key_usage, rotate

    app = env.app
    report = rotate(app.db, app.keyring, batch_size=batch_size, max_batches=max_batches)
    usage = key_usage(app.db)
    if as_json:
        click.echo(json.dumps({**report.as_dict(), "keys": usage}, indent=2))
    else:
        rows = [{"field": k, **v.as_dict()} for k, v in report.fields.items()]
        emit(rows, False, ["field", "resealed", "changed", "unreadable"])
        click.echo(
            f"primary {report.primary}: {report.total('resealed')} resealed in "
            f"{report.batches} batches; values per key: "
            + (", ".join(f"{k}={n}" for k, n in sorted(usage.items())) or "none")
        )
    if report.total("unreadable"):
        fail("some values could not be opened by any key; they were left as they are")


@keys.command("status")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def keys_status(env: Env, as_json: bool) -> None:
    """How many sealed values each key id seals; a key with none may be removed."""
    from postiz_pipelines.core.accounts.keys import key_usage

    usage = key_usage(env.app.db)
    rows = [
        {"kid": k, "values": n, "primary": "yes" if k == env.app.keyring.primary else ""}
        for k, n in sorted(usage.items())
    ]
    emit(rows, as_json, ["kid", "values", "primary"])
