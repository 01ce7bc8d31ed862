"""``/docs`` and ``/redoc`` work with no network: every script and stylesheet they load is
served by the app itself, and each one is the real file (not an error page)."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize(
    ("page", "assets"),
    [
        ("/docs", {"swagger-ui-bundle.js", "swagger-ui.css"}),
        ("/redoc", {"redoc.standalone.js"}),
    ],
)
def test_the_docs_pages_load_their_assets_from_the_app(client, page, assets) -> None:  # type: ignore[no-untyped-def]
    html = client.get(page)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    urls = re.findall(r"""(?:src|href)=["']([^"']+\.(?:js|css))["']""", html.text)
    assert {u.rsplit("/", 1)[-1] for u in urls} == assets
    for url in urls:
        assert url.startswith("/"), f"{url} would need the network"
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 10_000  # the real bundle, not a stub
        kind = "css" if url.endswith(".css") else "javascript"
        assert kind in asset.headers["content-type"]
    assert "fonts.googleapis.com" not in html.text and "cdn.jsdelivr" not in html.text
    assert client.get("/openapi.json").json()["info"]["title"] == "postiz-pipelines"


def test_the_assets_are_not_in_the_openapi_document(client) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]
