"""Workspaces (brands, clients) and who may act in them: users, roles and API tokens.

May import: core's infrastructure (models, db, ids, audit, events) and the vocabulary below
the package (errors, clock). Nothing else in core.
"""
