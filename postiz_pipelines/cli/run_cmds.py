"""Commands: publishing once, recovery, the sandbox, the demo and the dev stack."""

from __future__ import annotations

import json
import os
import sys

import click

from postiz_pipelines.cli.base import Env, emit, handles_errors, main, pass_env, write


# -- running ---------------------------------------------------------------------------
@main.command("publish")
@click.option("--workspace", "workspace_ref", default=None, help="Only this workspace.")
@click.option("--platform", default=None, help="Only this platform.")
@click.option("--json", "as_json", is_flag=True)
@pass_env
@handles_errors
def publish(env: Env, workspace_ref: str | None, platform: str | None, as_json: bool) -> None:
    """Publish what is due now, once, without Dagster (for scripts and cron)."""
    import socket

    from postiz_pipelines.core.publishing.runner import publish_due
    from postiz_pipelines.core.workspaces.store import get_workspace

    ws_id = None
    if workspace_ref:
        with env.app.db.read() as s:
            ws_id = get_workspace(s, workspace_ref).id
    owner = f"cli:{socket.gethostname()}:{os.getpid()}"
    report = publish_due(env.app, owner=owner, workspace_id=ws_id, platform=platform)
    emit([report.as_dict()], as_json, list(report.as_dict()))


@main.command("recover")
@pass_env
@handles_errors
def recover(env: Env) -> None:
    """Resolve jobs whose lease expired (their run or worker died)."""
    from postiz_pipelines.core.publishing.recovery import recover_expired_leases

    click.echo(json.dumps(recover_expired_leases(env.app.db, now=env.now()).as_dict()))


@main.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, type=int, show_default=True)
def sandbox(host: str, port: int) -> None:
    """Serve the local emulator of all fourteen platforms (with its /_sandbox control API)."""
    from postiz_pipelines.sandbox.server import serve

    serve(host, port)


@main.command("demo")
@click.option("--sandbox-url", default="http://127.0.0.1:8787", show_default=True)
@click.option("--posts", "count", default=6, type=click.IntRange(1, 100), show_default=True)
@click.option("--spread-seconds", default=180, type=click.IntRange(0, 86_400), show_default=True)
@pass_env
@handles_errors
def demo(env: Env, sandbox_url: str, count: int, spread_seconds: int) -> None:
    """Seed a demo workspace with sandbox accounts and posts due over the next minutes."""
    from postiz_pipelines.cli.demo import seed_demo
    from postiz_pipelines.core.media.backends import open_storage

    with write(env) as s:
        summary = seed_demo(
            s,
            env.app.keyring,
            sandbox_url=sandbox_url,
            now=env.now(),
            media_root=env.app.media_root,
            posts=count,
            spread_seconds=spread_seconds,
            storage=open_storage(env.app.settings, env.app.media_root),
        )
    click.echo(json.dumps(summary, indent=2))


@main.command("dev")
@click.option("--sandbox-port", default=8787, type=int, show_default=True)
@click.option("--ui-port", default=3000, type=int, show_default=True)
@click.option("--api-port", default=8000, type=int, show_default=True)
@click.option("--no-demo", is_flag=True, help="Do not seed the demo workspace.")
@pass_env
@handles_errors
def dev(env: Env, sandbox_port: int, ui_port: int, api_port: int, no_demo: bool) -> None:
    """Migrate, seed the demo, start the sandbox, the API and the Dagster UI (with its daemon)."""
    from postiz_pipelines.devserver import run_dev

    sys.exit(
        run_dev(
            env.settings,
            sandbox_port=sandbox_port,
            ui_port=ui_port,
            api_port=api_port,
            seed=not no_demo,
        )
    )


@main.command("worker")
@click.option("--once", is_flag=True, help="Stop when nothing is due instead of polling.")
@click.option(
    "--grace-seconds",
    default=30.0,
    type=click.FloatRange(0, 3600),
    show_default=True,
    help="How long in-flight posts may finish after SIGTERM/SIGINT.",
)
@pass_env
@handles_errors
def worker(env: Env, once: bool, grace_seconds: float) -> None:
    """Publish continuously (poll, claim, publish), beside or instead of Dagster runs."""
    import logging

    from postiz_pipelines.core.publishing.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    stats = run_worker(env.app, grace_seconds=grace_seconds, once=once)
    click.echo(json.dumps(stats.as_dict()))
