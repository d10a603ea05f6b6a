"""Accounts: institutions, users and roles, login and sessions, who may see a page."""
