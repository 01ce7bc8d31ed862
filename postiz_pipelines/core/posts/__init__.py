"""Posts: validate a new post for every target (``validate``), then store it (``create``);
edit one before it publishes (``edit``); read, page, cancel and retry (``manage``).

The top of the domain: may import every other part of core and the layers below core.
"""
