"""The Graph error table shared by the Facebook, Instagram and Threads providers: every
Meta code the platforms document lands in the right class, with its wait."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from postiz_pipelines.errors import (
    AuthExpired,
    AuthRevoked,
    ContentRejected,
    MediaRejected,
    ProviderError,
    RateLimited,
    TransientError,
)
from postiz_pipelines.providers.meta_errors import (
    MEDIA,
    POST,
    PUBLISH,
    READ,
    REFRESH,
    GraphError,
    classify,
    parse_error,
    status_error,
    throttle_wait,
)

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def mapped(
    code: int | None,
    subcode: int | None = None,
    *,
    status: int = 400,
    call: str = POST,
    refreshable: bool = False,
    headers: dict[str, str] | None = None,
) -> ProviderError:
    error = GraphError(code=code, subcode=subcode, message=f"(#{code}) something")
    return classify(
        "facebook", status, error, headers or {}, call=call, now=NOON, refreshable=refreshable
    )


@pytest.mark.parametrize(
    ("code", "subcode", "kind"),
    [
        (1, None, TransientError),
        (2, None, TransientError),
        (4, None, RateLimited),
        (17, None, RateLimited),
        (32, None, RateLimited),
        (341, None, RateLimited),
        (613, None, RateLimited),
        (80001, None, RateLimited),
        (80002, None, RateLimited),
        (368, None, ContentRejected),
        (506, None, ContentRejected),
        (4, 2207051, ContentRejected),  # "we restrict certain activity": spam, not a throttle
        (100, 2207010, ContentRejected),
        (25, 2207050, ContentRejected),
        (190, None, AuthRevoked),
        (190, 460, AuthRevoked),
        (190, 463, AuthRevoked),  # a page token cannot be refreshed
        (102, None, AuthRevoked),
        (10, None, AuthRevoked),
        (200, None, AuthRevoked),
        (299, None, AuthRevoked),
        (100, 33, AuthRevoked),
        (9007, 2207027, TransientError),
        (-2, 2207003, TransientError),
        (-2, 2207020, TransientError),
        (-1, 2207001, TransientError),
        (24, 2207006, TransientError),
        (36000, 2207004, MediaRejected),
        (36001, 2207005, MediaRejected),
        (36003, 2207009, MediaRejected),
        (352, 2207026, MediaRejected),
        (9004, 2207052, MediaRejected),
        (100, 1366046, MediaRejected),
        (324, None, MediaRejected),
        (389, None, MediaRejected),
        (100, None, ContentRejected),
    ],
)
def test_codes_map_to_the_error_tree(code: int, subcode: int | None, kind: type) -> None:
    error = mapped(code, subcode)
    assert type(error) is kind
    assert error.code == (f"{code}/{subcode}" if subcode else str(code))
    assert (error.platform, error.status) == ("facebook", 400)


def test_190_463_is_auth_expired_where_the_platform_refreshes() -> None:
    assert type(mapped(190, 463, refreshable=True)) is AuthExpired
    assert type(mapped(190, 460, refreshable=True)) is AuthRevoked
    # refreshing with an expired token cannot be refreshed again
    assert type(mapped(190, 463, refreshable=True, call=REFRESH)) is AuthRevoked


def test_a_generic_refusal_is_classed_by_the_call() -> None:
    assert type(mapped(100, call=MEDIA)) is MediaRejected
    assert type(mapped(100, call=PUBLISH)) is ContentRejected
    assert type(mapped(100, call=READ)) is ProviderError
    assert type(mapped(None, status=503)) is TransientError
    assert type(mapped(None, status=200)) is TransientError


def test_the_daily_limit_waits_until_the_next_utc_day() -> None:
    error = mapped(9, 2207042)
    assert isinstance(error, RateLimited)
    assert error.retry_after == 12 * 3600


def test_throttles_wait_for_the_business_use_case_estimate() -> None:
    usage = {"1": [{"type": "pages", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    error = mapped(32, headers={"X-Business-Use-Case-Usage": json.dumps(usage)})
    assert isinstance(error, RateLimited)
    assert error.retry_after == 420
    assert throttle_wait({"Retry-After": "30"}, NOON) == 30
    assert throttle_wait({"x-business-use-case-usage": "{broken"}, NOON) == 300
    assert isinstance(mapped(None, status=429), RateLimited)


def test_errors_and_container_statuses_are_parsed() -> None:
    body = {"error": {"code": 190, "error_subcode": 463, "message": "m", "is_transient": False}}
    assert parse_error(body) == GraphError(code=190, subcode=463, message="m")
    assert parse_error({"id": "1"}) is None
    assert parse_error(None) is None
    failed = status_error("Error: Media upload has failed with error code 2207026")
    assert failed.subcode == 2207026
    assert failed.label == "2207026"
    assert (
        type(classify("instagram", 200, failed, {}, call=MEDIA, now=NOON, refreshable=True))
        is MediaRejected
    )


def test_the_user_message_joins_the_message() -> None:
    error = GraphError(
        code=36000, subcode=2207004, message="Too large.", user_message="Under 8 MiB."
    )
    result = classify("instagram", 400, error, {}, call=MEDIA, now=NOON, refreshable=True)
    assert result.message == "instagram: Too large. (Under 8 MiB.)"
