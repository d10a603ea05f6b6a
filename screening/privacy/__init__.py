"""Data protection: retention periods per institution and a person's rights (access, erasure)."""
