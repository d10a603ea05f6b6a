"""The JSON API (``/api/v1``, one module per resource) and the personal tokens it authenticates with."""
