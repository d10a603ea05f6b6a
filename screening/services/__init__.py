"""Business logic as plain functions taking a session and the acting user; they flush, never commit."""
