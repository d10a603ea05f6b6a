"""Committee review: committees and routing, the case, deliberation, advisors and decisions."""
