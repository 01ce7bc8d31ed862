"""Request and response bodies, one module per resource: ``posts``, ``schedules``, ``jobs``
(dead letters and attempts), ``media``, ``accounts``, ``workspaces``, ``tokens``, ``webhooks``,
``evergreen``, ``worker``, ``problems`` (the error body); ``base`` holds the conventions they
share (camelCase JSON names, unknown request fields refused).
"""
