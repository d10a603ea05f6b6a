"""Domain errors that views translate into HTTP answers."""


class DomainError(Exception):
    """Base class for errors the user can act on."""


class NotFound(DomainError):
    """The object does not exist or the actor may not know it exists (answers 404)."""


class Forbidden(DomainError):
    """The actor's role does not allow the action (answers 403)."""


class ExplainedForbidden(Forbidden):
    """A 403 whose (translated) message the page shows, because the user can understand and act on it."""


class Conflict(DomainError):
    """The object's state does not allow the action (answers 409)."""


class IllegalTransition(Conflict):
    def __init__(self, from_state: str, to_state: str):
        super().__init__(f"cannot move from {from_state} to {to_state}")
        self.from_state = from_state
        self.to_state = to_state


class ValidationFailed(DomainError):
    """Input rejected; ``errors`` maps a field path to a message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
