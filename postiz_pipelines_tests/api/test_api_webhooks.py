"""Registering outgoing webhooks through the API: every spelling of a private address is a
422 naming ``url`` with nothing stored; a public name is accepted."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from postiz_pipelines.core.models import WebhookSubscription

HOOKS = "/api/postiz/webhooks"
PRIVATE = [
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://localhost./",
    "http://127.0.0.1./",
    "http://0177.0.0.1:18999/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::1]:8080/",
    "https://printer.local/",
    "http://intranet/",
    "http://169.254.169.254/latest/meta-data",
    "http://1.2.3.256/",  # no address at all
]


def _count(app) -> int:  # type: ignore[no-untyped-def]
    with app.db.read() as s:
        return s.scalar(select(func.count()).select_from(WebhookSubscription)) or 0


@pytest.mark.parametrize("url", PRIVATE)
def test_private_spellings_are_refused_at_registration(client, world, app, url):
    r = client.post(HOOKS, headers=world.h("admin"), json={"workspaceId": world.a, "url": url})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    [problem] = r.json()["problems"]
    assert problem["field"] == "url" and problem["value"] == url
    assert _count(app) == 0


def test_a_public_name_is_accepted(client, world, app):
    url = "https://hooks.example.com/postiz/é"
    r = client.post(HOOKS, headers=world.h("admin"), json={"workspaceId": world.a, "url": url})
    assert r.status_code == 201, r.text
    assert r.json()["url"] == url and r.json()["secret"].startswith("whsec_")
    assert _count(app) == 1
