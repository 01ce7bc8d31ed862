"""Posts: create (validate for every target, then store), read, page, edit, cancel, retry.

The top of the domain: may import every other part of core and the layers below core.
"""
