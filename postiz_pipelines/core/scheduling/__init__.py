"""When posts go out: recurrence rules, occurrences, posting slots, the evergreen library,
stored schedules and their expansion into publish jobs, and the times people type.

May import: ``core.publishing`` (expansion enqueues jobs) and everything below it.
Never ``core.posts``, which sits above.
"""
