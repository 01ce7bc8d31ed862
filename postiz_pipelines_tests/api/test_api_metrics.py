"""``GET /metrics`` parses with prometheus-client's own parser, and its counters move when a
post publishes."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from postiz_pipelines.core.models import BreakerState, CircuitBreaker, Throttle

PROCESS = "/api/postiz/worker/process"


def scrape(client) -> dict[tuple[str, tuple], float]:  # type: ignore[no-untyped-def]
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def test_metrics_parse_and_counters_move_on_publish(client, world, worker_headers, clock, app):
    before = scrape(client)
    published = (
        "postiz_publish_outcomes_total",
        (("outcome", "published"), ("platform", "mastodon")),
    )
    assert before.get(published, 0.0) == 0.0
    assert before[("postiz_jobs", (("state", "pending"),))] == 0.0
    r = client.post(
        "/api/postiz/posts",
        headers=world.h(),
        json={"content": "metrics 📈", "workspaceId": world.a, "targetAccounts": [world.account_a]},
    )
    assert r.status_code == 201, r.text
    assert scrape(client)[("postiz_jobs", (("state", "pending"),))] == 1.0
    clock.advance(2)
    done = client.post(PROCESS, headers=worker_headers, json={"maxJobs": 10})
    assert done.json()["processed"]["completed"] == 1, done.text
    after = scrape(client)
    assert after[published] == 1.0
    assert after[("postiz_jobs", (("state", "completed"),))] == 1.0
    lag_count = ("postiz_publish_lag_seconds_count", (("platform", "mastodon"),))
    assert after[lag_count] == 1.0
    assert (
        after[("postiz_publish_lag_seconds_bucket", (("le", "+Inf"), ("platform", "mastodon")))]
        == 1.0
    )
    lag_sum = after[("postiz_publish_lag_seconds_sum", (("platform", "mastodon"),))]
    le_1 = after[("postiz_publish_lag_seconds_bucket", (("le", "1.0"), ("platform", "mastodon")))]
    le_5 = after[("postiz_publish_lag_seconds_bucket", (("le", "5.0"), ("platform", "mastodon")))]
    assert 1.0 <= lag_sum <= 5.0 and (le_1, le_5) == (0.0, 1.0)  # published ~2 s late


def test_breakers_and_throttles(client, world, clock, app):
    with app.db.session() as s:
        s.add(CircuitBreaker(platform="x", state=BreakerState.OPEN, updated_at=clock.now()))
        s.add(
            Throttle(
                scope=f"account:{world.account_a}",
                blocked_until=clock.now().replace(year=2030),
                reason="429",
            )
        )
    got = scrape(client)
    assert got[("postiz_circuit_breaker_state", (("platform", "x"), ("state", "open")))] == 1.0
    assert got[("postiz_circuit_breaker_state", (("platform", "x"), ("state", "closed")))] == 0.0
    assert got[("postiz_throttled_accounts", (("platform", "mastodon"),))] == 1.0
