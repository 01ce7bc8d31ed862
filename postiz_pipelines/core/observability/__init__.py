"""What the engine tells people and tools: analytics reports, worker statistics, alerts and
outgoing webhooks. (Events and the audit log are written in the caller's transaction by every
part of core, so they live in core's infrastructure, not here.)

May import: ``core.publishing`` and everything below it.
"""
