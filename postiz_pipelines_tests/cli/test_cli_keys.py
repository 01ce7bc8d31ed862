"""``keys generate``, ``keys rotate`` and ``keys status`` from the command line, with the
embedded key file and with POSTIZ_ENCRYPTION_KEY."""

from __future__ import annotations

import json
from pathlib import Path

from postiz_pipelines.core.accounts.store import credentials
from postiz_pipelines.core.context import AppContext
from postiz_pipelines.core.models import SocialAccount
from postiz_pipelines.settings import Settings
from postiz_pipelines_tests.cli.conftest import Run


def test_generate_then_rotate_with_the_embedded_key_file(env, clock, tmp_path):
    embedded = {k: v for k, v in env.items() if k != "POSTIZ_ENCRYPTION_KEY"}
    run = Run(embedded, clock)
    app = AppContext.from_settings(Settings.from_env(embedded))
    from postiz_pipelines.core.accounts.store import add_account
    from postiz_pipelines.core.workspaces.store import create_workspace

    with app.db.session() as s:
        ws = create_workspace(s, slug="keys", timezone=None, now=clock.now())
        acc = add_account(
            s,
            app.keyring,
            workspace=ws,
            platform="bluesky",
            handle="zoë.example",
            access_token="jwt-ünïcode-🔐",
            refresh_token="refresh-jwt",
            now=clock.now(),
        ).id
    old = app.keyring.primary
    app.close()

    assert (
        "must be letters and digits" in run("keys", "generate", "--kid", "no-dash", code=1).output
    )
    made = run("keys", "generate", "--kid", "k2").output
    assert "key k2 now seals" in made
    keyfile = Path(embedded["POSTIZ_DATA_DIR"]).resolve() / "encryption.key"
    assert keyfile.read_text().startswith("k2:") and f",{old}:" in keyfile.read_text()
    assert run("keys", "generate", "--kid", "k2", code=1).output.count("already has a key") == 1

    before = json.loads(run("keys", "status", "--json").output)
    assert {r["kid"]: r["values"] for r in before} == {old: 2}
    rotated = json.loads(run("keys", "rotate", "--batch-size", "1", "--json").output)
    assert rotated["resealed"] == 2 and rotated["keys"] == {"k2": 2}
    assert rotated["fields"]["social_accounts.refresh_token"]["resealed"] == 1
    assert "jwt-ünïcode" not in json.dumps(rotated)
    table = run("keys", "rotate").output
    assert "0 resealed" in table and "k2=2" in table

    keyfile.write_text(keyfile.read_text().split(",")[0] + "\n")  # the old key removed
    again = AppContext.from_settings(Settings.from_env(embedded))
    with again.db.read() as s:
        creds = credentials(s.get(SocialAccount, acc), again.keyring)
    again.close()
    assert creds.access_token.reveal() == "jwt-ünïcode-🔐"


def test_generate_with_the_environment_key_prints_the_new_entry(run):
    result = run("keys", "generate", "--kid", "k9")
    line = result.stdout.strip()
    assert line.startswith("k9:") and len(line) > 40
    assert "put it first in POSTIZ_ENCRYPTION_KEY" in result.stderr
    assert "already has a key" in run("keys", "generate", "--kid", "test", code=1).output
