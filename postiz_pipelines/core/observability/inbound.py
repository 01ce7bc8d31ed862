"""What an accepted incoming platform webhook tells, applied in one transaction with its
``webhook_received`` event.

- a deleted post: the target is marked ``remote_deleted_at`` (in its settings) and is no
  longer pulled for engagement (Meta feed ``remove``, X ``tweet_delete_events``);
- new engagement: the target's latest engagement snapshot, one more like or reply (Meta
  reactions and comments, X ``favorite_events``, Slack ``reaction_added``, Telegram
  ``message_reaction``);
- a revoked app: the matching accounts become ``reconnect_needed`` and their waiting jobs
  are held (Slack ``app_uninstalled`` and ``tokens_revoked``, X ``user_event.revoke``,
  Telegram ``my_chat_member`` kicked or left, Discord ``APPLICATION_DEAUTHORIZED``, Meta's
  deauthorize ``signed_request``, matched on the app-scoped user id kept at connect).

A call whose ``dedup_key`` was already received within the replay window is refused and
writes nothing (two identical calls racing can both pass the check; the effects are
idempotent: a mark, a status, a +1 that a later pull overwrites with the platform's count).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from postiz_pipelines.core.events import EventType, record_event
from postiz_pipelines.core.models import (
    AccountStatus,
    AnalyticsEvent,
    Post,
    PostTarget,
    SocialAccount,
)
from postiz_pipelines.core.observability.inbound_signatures import META_PLATFORMS, Verified
from postiz_pipelines.core.publishing import hold


class Replayed(Exception):
    """The same call was already received."""


Action = tuple[str, dict[str, Any]]  # ("post_deleted" | "engagement" | "app_revoked", details)


def already_received(session: Session, v: Verified, *, now: datetime, window: timedelta) -> bool:
    return (
        session.scalar(
            select(AnalyticsEvent.id)
            .where(
                AnalyticsEvent.event_type == EventType.WEBHOOK_RECEIVED,
                AnalyticsEvent.occurred_at >= now - window,
                AnalyticsEvent.platform == v.platform,
                AnalyticsEvent.data["dedup_key"].as_string() == v.dedup_key,
            )
            .limit(1)
        )
        is not None
    )


# -- reading what each platform says -------------------------------------------------------
def actions_of(platform: str, payload: Any) -> list[Action]:
    """The changes a verified payload announces, in a platform-neutral form."""
    p = payload if isinstance(payload, dict) else {}
    out: list[Action] = []
    if platform in META_PLATFORMS:
        if p.get("callback") == "deauthorize" and p.get("user_id"):
            # the person removed the app: every account connected through their login
            out.append(("app_revoked", {"user_id": str(p["user_id"])}))
        for entry in p.get("entry") or []:
            for change in (entry or {}).get("changes") or []:
                value = (change or {}).get("value") or {}
                item, verb = value.get("item"), value.get("verb")
                post_id = value.get("post_id") or value.get("media_id") or value.get("id")
                if verb == "remove" and item in ("status", "post", "photo", "video", None):
                    out.append(("post_deleted", {"remote_id": str(post_id)}))
                elif verb == "add" and item in ("reaction", "like"):
                    out.append(("engagement", {"remote_id": str(post_id), "metric": "likes"}))
                elif verb == "add" and item == "comment" or change.get("field") == "comments":
                    out.append(("engagement", {"remote_id": str(post_id), "metric": "replies"}))
    elif platform == "x":
        user = str(p.get("for_user_id") or "")
        for d in p.get("tweet_delete_events") or []:
            out.append(
                ("post_deleted", {"remote_id": str(((d or {}).get("status") or {}).get("id"))})
            )
        for f in p.get("favorite_events") or []:
            tweet = ((f or {}).get("favorited_status") or {}).get("id_str") or (
                (f or {}).get("favorited_status") or {}
            ).get("id")
            out.append(("engagement", {"remote_id": str(tweet), "metric": "likes"}))
        revoke = (p.get("user_event") or {}).get("revoke")
        if revoke:
            target = (revoke.get("target") or {}).get("app_id")
            out.append(("app_revoked", {"external_id": user, "app_id": target}))
    elif platform == "slack":
        event = p.get("event") or {}
        kind = event.get("type")
        if kind in ("app_uninstalled", "tokens_revoked"):
            out.append(("app_revoked", {"team_id": p.get("team_id")}))
        elif kind == "reaction_added":
            item = event.get("item") or {}
            out.append(("engagement", {"remote_id": str(item.get("ts")), "metric": "likes"}))
    elif platform == "telegram":
        member = p.get("my_chat_member") or {}
        status = ((member.get("new_chat_member") or {}).get("status")) if member else None
        if status in ("kicked", "left"):
            out.append(("app_revoked", {"external_id": str((member.get("chat") or {}).get("id"))}))
        reaction = p.get("message_reaction") or {}
        if reaction:
            chat = str((reaction.get("chat") or {}).get("id"))
            remote = f"{chat}:{reaction.get('message_id')}"
            added = len(reaction.get("new_reaction") or []) - len(
                reaction.get("old_reaction") or []
            )
            out.append(("engagement", {"remote_id": remote, "metric": "likes", "delta": added}))
    elif platform == "discord":
        event = p.get("event") or {}
        if event.get("type") == "APPLICATION_DEAUTHORIZED":
            who = ((event.get("data") or {}).get("user") or {}).get("id")
            out.append(("app_revoked", {"user_id": str(who)}))
    return out


# -- applying it ---------------------------------------------------------------------------
def _targets(s: Session, platform: str, remote_id: str) -> list[PostTarget]:
    return list(
        s.scalars(
            select(PostTarget)
            .join(SocialAccount, SocialAccount.id == PostTarget.account_id)
            .where(PostTarget.remote_id == remote_id, SocialAccount.platform == platform)
        )
    )


def _accounts(s: Session, platform: str, details: dict[str, Any]) -> list[SocialAccount]:
    found = []
    for a in s.scalars(
        select(SocialAccount).where(
            SocialAccount.platform == platform, SocialAccount.deleted_at.is_(None)
        )
    ):
        settings = a.settings or {}
        keys = {a.external_id, str(settings.get("team_id")), str(settings.get("user_id"))}
        wanted = {str(v) for k, v in details.items() if k != "app_id" and v not in (None, "")}
        if keys & wanted:
            found.append(a)
    return found


def _bump(s: Session, t: PostTarget, metric: str, delta: int, now: datetime) -> None:
    """One more like or reply on the target's latest engagement snapshot."""
    last = s.scalar(
        select(AnalyticsEvent.data)
        .where(
            AnalyticsEvent.event_type == EventType.ENGAGEMENT_PULLED,
            AnalyticsEvent.post_id == t.post_id,
            AnalyticsEvent.account_id == t.account_id,
        )
        .order_by(AnalyticsEvent.id.desc())
        .limit(1)
    )
    snap = dict(last or {})
    counts = {m: snap.get(m) for m in ("likes", "reposts", "replies", "views")}
    counts[metric] = max((counts.get(metric) or 0) + delta, 0)
    post = s.get(Post, t.post_id)
    record_event(
        s,
        EventType.ENGAGEMENT_PULLED,
        now=now,
        workspace_id=post.workspace_id if post else None,
        platform=snap.get("platform") or None,
        account_id=t.account_id,
        post_id=t.post_id,
        target_id=t.id,
        remote_id=t.remote_id,
        published_at=t.published_at.isoformat() if t.published_at else None,
        source="webhook",
        **counts,
    )


def apply(s: Session, v: Verified, *, now: datetime) -> list[dict[str, Any]]:
    """Apply what ``v`` tells; returns one summary per action for the event and the reply."""
    done = []
    for kind, details in actions_of(v.platform, v.payload):
        summary: dict[str, Any] = {"action": kind, **details}
        if kind == "post_deleted":
            targets = _targets(s, v.platform, details["remote_id"])
            for t in targets:
                t.settings_override = {
                    **(t.settings_override or {}),
                    "remote_deleted_at": now.isoformat(),
                }
            summary["targets"] = [t.id for t in targets]
        elif kind == "engagement":
            targets = _targets(s, v.platform, details["remote_id"])
            for t in targets:
                _bump(s, t, details["metric"], int(details.get("delta", 1)), now)
            summary["targets"] = [t.id for t in targets]
        elif kind == "app_revoked":
            accounts = _accounts(s, v.platform, details)
            for a in accounts:
                if a.status == AccountStatus.ACTIVE:
                    hold.mark_reconnect_needed(
                        s,
                        a,
                        reason=f"{v.platform} says the app was removed from the account",
                        now=now,
                        actor=f"webhook:{v.platform}",
                        error_class="app_revoked",
                    )
            summary["accounts"] = [a.id for a in accounts]
        done.append(summary)
    return done


def receive(s: Session, v: Verified, *, now: datetime, window: timedelta) -> list[dict[str, Any]]:
    """Refuse a replay (``Replayed``), else apply the call and write ``webhook_received``."""
    if already_received(s, v, now=now, window=window):
        raise Replayed(v.dedup_key)
    done = apply(s, v, now=now)
    workspaces = {
        a.workspace_id
        for d in done
        for a in (s.get(SocialAccount, i) for i in d.get("accounts", []))
        if a is not None
    }
    record_event(
        s,
        EventType.WEBHOOK_RECEIVED,
        now=now,
        workspace_id=next(iter(workspaces)) if len(workspaces) == 1 else None,
        platform=v.platform,
        dedup_key=v.dedup_key,
        sent_at=v.sent_at.isoformat() if v.sent_at else None,
        actions=done,
    )
    return done
