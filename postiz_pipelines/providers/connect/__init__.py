"""Connecting accounts: each platform's own consent and token calls, and what it says about
the account (``/me``, pages, channels, boards, instance limits).

``oauth.py`` is the authorization-code engine over authlib (PKCE, client authentication,
token parsing); ``social.py``, ``meta.py``, ``chat.py`` and ``fediverse.py`` hold the
platforms by family; ``registry.py`` names the connector of each platform. Nothing here
imports ``core``: the flows' state and storage live in ``core/accounts/connect``.
"""
