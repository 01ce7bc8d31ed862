"""Re-sealing every sealed value with the primary key (``postiz-pipelines keys rotate``).

Every value sealed with ``crypto.Keyring`` is listed in ``SEALED`` with the associated data it
was sealed under: account tokens, OAuth client secrets of registered apps, PKCE verifiers and
the tokens a connect flow keeps while the user picks (in ``oauth_states.extra``), outgoing
webhook secrets. ``rotate`` walks each in batches by primary key, opens each value not yet
under the primary key with whichever key of the ring sealed it, seals it again with the
primary, and writes it back only if the stored value is still the one it read (a token
refreshed meanwhile is never overwritten with its older self). Each batch commits on its
own, and only values not under the primary are selected, so an interrupted rotation resumes
where it stopped when run again. Old keys keep opening what they sealed until they are
removed from ``POSTIZ_ENCRYPTION_KEY``; ``key_usage`` says when none is left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import InstrumentedAttribute

from postiz_pipelines.core.db import Database
from postiz_pipelines.core.models import OAuthApp, OAuthState, SocialAccount, WebhookSubscription
from postiz_pipelines.crypto import VERSION, Keyring
from postiz_pipelines.errors import SealingError


@dataclass(frozen=True)
class SealedColumn:
    """One column of sealed values and the associated data of a row's value."""

    name: str
    model: Any
    column: str
    context: Callable[[str], str]


SEALED: tuple[SealedColumn, ...] = (
    SealedColumn(
        "social_accounts.access_token",
        SocialAccount,
        "access_token_sealed",
        lambda i: f"social_account:{i}:access",
    ),
    SealedColumn(
        "social_accounts.refresh_token",
        SocialAccount,
        "refresh_token_sealed",
        lambda i: f"social_account:{i}:refresh",
    ),
    SealedColumn(
        "oauth_apps.client_secret",
        OAuthApp,
        "client_secret_sealed",
        lambda i: f"oauth_app:{i}:secret",
    ),
    SealedColumn(
        "oauth_states.code_verifier",
        OAuthState,
        "code_verifier_sealed",
        lambda i: f"oauth_state:{i}:verifier",
    ),
    SealedColumn(
        "webhook_subscriptions.secret",
        WebhookSubscription,
        "secret_sealed",
        lambda i: f"webhook_subscription:{i}:secret",
    ),
)
PENDING = "oauth_states.pending_tokens"  # extra["pending"][n]["access" | "refresh"]


@dataclass
class Counts:
    resealed: int = 0
    current: int = 0  # already under the primary key
    changed: int = 0  # rewritten by someone else meanwhile: left alone (it is newer)
    unreadable: int = 0  # no key of the ring opens it

    def as_dict(self) -> dict[str, int]:
        return {
            "resealed": self.resealed,
            "current": self.current,
            "changed": self.changed,
            "unreadable": self.unreadable,
        }


@dataclass
class RotationReport:
    primary: str
    fields: dict[str, Counts] = field(default_factory=dict)
    batches: int = 0

    def total(self, what: str) -> int:
        return sum(getattr(c, what) for c in self.fields.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "primary": self.primary,
            "batches": self.batches,
            "resealed": self.total("resealed"),
            "unreadable": self.total("unreadable"),
            "fields": {k: v.as_dict() for k, v in self.fields.items()},
        }


def kid_of(sealed: str) -> str | None:
    parts = sealed.split(".", 2)
    return parts[1] if len(parts) == 3 and parts[0] == VERSION else None


def rotate(
    db: Database, keyring: Keyring, *, batch_size: int = 200, max_batches: int | None = None
) -> RotationReport:
    """Re-seal every sealed value not under the primary key, ``batch_size`` rows a
    transaction; ``max_batches`` stops early (the rest is done by the next run)."""
    report = RotationReport(keyring.primary)
    for spec in SEALED:
        counts = report.fields.setdefault(spec.name, Counts())
        if not _rotate_column(db, keyring, spec, counts, report, batch_size, max_batches):
            return report
    counts = report.fields.setdefault(PENDING, Counts())
    _rotate_pending(db, keyring, counts, report, batch_size, max_batches)
    return report


def _more(report: RotationReport, max_batches: int | None) -> bool:
    return max_batches is None or report.batches < max_batches


def _rotate_column(
    db: Database,
    keyring: Keyring,
    spec: SealedColumn,
    counts: Counts,
    report: RotationReport,
    batch_size: int,
    max_batches: int | None,
) -> bool:
    col: InstrumentedAttribute[Any] = getattr(spec.model, spec.column)
    pk: InstrumentedAttribute[Any] = spec.model.id
    current = f"{VERSION}.{keyring.primary}.%"
    after = ""
    while _more(report, max_batches):
        with db.session() as s:
            rows = s.execute(
                select(pk, col)
                .where(col.is_not(None), ~col.like(current), pk > after)
                .order_by(pk)
                .limit(batch_size)
            ).all()
            if not rows:
                return True
            report.batches += 1
            for row_id, sealed in rows:
                after = row_id
                fresh = _reseal(keyring, sealed, spec.context(row_id), counts)
                if fresh is None:
                    continue
                result = s.execute(
                    update(spec.model)
                    .where(pk == row_id, col == sealed)  # compare-and-set on what was read
                    .values({spec.column: fresh})
                    .execution_options(synchronize_session=False)
                )
                if (cast(CursorResult[Any], result).rowcount or 0) > 0:
                    counts.resealed += 1
                else:
                    counts.changed += 1
    return False


def _reseal(keyring: Keyring, sealed: str, context: str, counts: Counts) -> str | None:
    if not keyring.needs_reseal(sealed):
        counts.current += 1
        return None
    try:
        plain = keyring.open(sealed, context=context)
    except SealingError:
        counts.unreadable += 1
        return None
    return keyring.seal(plain.reveal(), context=context)


def _rotate_pending(
    db: Database,
    keyring: Keyring,
    counts: Counts,
    report: RotationReport,
    batch_size: int,
    max_batches: int | None,
) -> None:
    """The tokens a connect flow keeps in its state row while the user picks pages."""
    after = ""
    while _more(report, max_batches):
        with db.session() as s:
            states = list(
                s.scalars(
                    select(OAuthState)
                    .where(OAuthState.id > after)
                    .order_by(OAuthState.id)
                    .limit(batch_size)
                )
            )
            if not states:
                return
            report.batches += 1
            for row in states:
                after = row.id
                pending = (row.extra or {}).get("pending")
                if not isinstance(pending, list):
                    continue
                changed = False
                out = []
                for n, item in enumerate(pending):
                    item = dict(item) if isinstance(item, dict) else item
                    for offset, key in ((0, "access"), (1, "refresh")):
                        sealed = item.get(key) if isinstance(item, dict) else None
                        if not isinstance(sealed, str):
                            continue
                        ctx = f"oauth_state:{row.id}:pending:{2 * n + offset}"
                        fresh = _reseal(keyring, sealed, ctx, counts)
                        if fresh is not None:
                            item[key] = fresh
                            counts.resealed += 1
                            changed = True
                    out.append(item)
                if changed:
                    row.extra = {**(row.extra or {}), "pending": out}


def key_usage(db: Database) -> dict[str, int]:
    """How many sealed values each key id seals (a key with none left may be removed)."""
    usage: dict[str, int] = {}
    with db.read() as s:
        for spec in SEALED:
            col = getattr(spec.model, spec.column)
            for (sealed,) in s.execute(select(col).where(col.is_not(None))):
                kid = kid_of(sealed) or "?"
                usage[kid] = usage.get(kid, 0) + 1
        for (extra,) in s.execute(select(OAuthState.extra)):
            for item in (extra or {}).get("pending") or []:
                for key in ("access", "refresh"):
                    sealed = item.get(key) if isinstance(item, dict) else None
                    if isinstance(sealed, str):
                        kid = kid_of(sealed) or "?"
                        usage[kid] = usage.get(kid, 0) + 1
    return usage
