"""Platform clients behind one ``Provider`` interface (see ``base.py``)."""
