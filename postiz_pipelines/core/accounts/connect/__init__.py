"""Connect flows: the state of an authorization in flight (``states``), the app's OAuth
clients (``clients``, Mastodon registrations in ``apps``), storing what the platform said
(``store``: reconnect in place, the one-workspace rule, held jobs released) and the flows
themselves (``flow``). The platforms' own calls are in ``providers/connect``."""
