"""Media files: recognising and measuring uploads, storing their bytes, signed links.

May import: ``core.workspaces``, core's infrastructure, ``providers`` (the media types they
receive) and the vocabulary.
"""
