"""Social accounts connected to a workspace: their sealed credentials and token refresh.

May import: ``core.workspaces``, core's infrastructure, ``providers`` and the vocabulary.
What an account's change of status does to its jobs lives in ``core.publishing``.
"""
