"""What every feature builds on: database types, configuration, extensions, audit trail, outbox,
rate limiting, security, languages and access to the rules engine. Imports no feature."""
