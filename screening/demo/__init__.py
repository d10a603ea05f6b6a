"""Demo data for ``screening demo``: two institutions, their people, 30 screened proposals and letters."""
