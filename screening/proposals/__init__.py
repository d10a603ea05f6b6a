"""Researcher intake: proposals, drafts, submission (freeze + screen), the workflow state machine."""
