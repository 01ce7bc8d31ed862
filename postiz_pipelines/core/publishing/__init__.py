"""Publishing jobs: the durable queue (the only writer of job state), claims and runs, the
engine that makes the platform call, outcomes, retries and backoff, throttles and the
circuit breaker, lease recovery, the dead-letter queue and the continuous worker.

May import: ``core.accounts``, ``core.media``, ``core.workspaces``, core's infrastructure,
``providers`` and the vocabulary. Never ``core.scheduling`` or ``core.posts``, which sit above.
"""
