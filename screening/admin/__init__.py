"""The institution administrators' pages: users, committees, routing, sign-on, tokens, lists, audit log."""
