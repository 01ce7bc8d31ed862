"""Each emulator refuses an API version its platform does not serve, as the platform does;
the providers use the version the settings name."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from postiz_pipelines.clock import FixedClock
from postiz_pipelines.providers.registry import ProviderSet
from postiz_pipelines.sandbox import SandboxState, SandboxTransport, create_app
from postiz_pipelines.settings import Settings


def _get(
    state: SandboxState, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=SandboxTransport(create_app(state))) as http:
            url = f"http://sandbox.test{path}"
            return await http.request(method, url, headers=headers or {}, json={})

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("platform", "version", "served"),
    [
        ("facebook", "v24.0", True),
        ("facebook", "v21.0", True),
        ("facebook", "v2.0", True),  # retired: Meta serves it as the oldest version
        ("facebook", "v99.0", False),  # not released
        ("facebook", "v24.5", False),  # never existed
        ("instagram", "v25.0", False),
        ("threads", "v1.0", True),
        ("threads", "v24.0", False),  # Threads has its own API versions
    ],
)
def test_meta_hosts_serve_only_released_versions(
    sandbox_state: SandboxState, platform: str, version: str, served: bool
) -> None:
    sandbox_state.provision(platform, "tok-page", username="page")
    answer = _get(sandbox_state, f"/{platform}/{version}/me", {"Authorization": "Bearer tok-page"})
    if served:
        assert answer.status_code == 200, answer.text
    else:
        error = answer.json()["error"]
        assert (answer.status_code, error["code"]) == (400, 2500)
        assert error["message"] == f"Unknown path components: /{version}"


@pytest.mark.parametrize(
    ("version", "ok"),
    [("202611", True), ("202512", True), ("202611.01", True), ("202510", False), ("202612", False)],
)
def test_linkedin_refuses_sunset_and_unreleased_versions(
    sandbox_state: SandboxState, clock: FixedClock, version: str, ok: bool
) -> None:
    sandbox_state.provision("linkedin", "tok-li", username="li")
    answer = _get(
        sandbox_state,
        "/linkedin/rest/posts",
        {"Authorization": "Bearer tok-li", "LinkedIn-Version": version},
        method="POST",
    )
    if ok:
        assert answer.status_code != 426
    else:
        assert (answer.status_code, answer.json()["code"]) == (426, "NONEXISTENT_VERSION")


def test_the_graph_version_is_one_setting_for_facebook_and_instagram() -> None:
    settings = Settings.from_env({"POSTIZ_META_GRAPH_API_VERSION": "v23.0"})
    providers = ProviderSet(httpx.AsyncClient(), options=settings.provider_options())
    assert providers.get("facebook").version == "v23.0"  # type: ignore[attr-defined]
    assert providers.get("instagram").version == "v23.0"  # type: ignore[attr-defined]
    assert providers.get("threads").version == "v1.0"  # type: ignore[attr-defined]
    with pytest.raises(Exception, match="POSTIZ_META_GRAPH_API_VERSION"):
        Settings.from_env({"POSTIZ_META_GRAPH_API_VERSION": "24.0"})
