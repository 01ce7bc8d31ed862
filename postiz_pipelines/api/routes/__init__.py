"""One module per resource; ``app.py`` includes every router."""
