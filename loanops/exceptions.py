"""Domain errors shared by every app. Interfaces translate them into HTTP answers (see loanops.api)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule refused the request (HTTP 422 on the API).

    ``fields`` maps field names to lists of messages when the refusal is about particular inputs.
    """

    http_status = 422

    def __init__(
        self,
        message: str,
        *,
        code: str = "business_rule",
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.fields = fields or {}
        self.extra = extra or {}


class InvalidTransition(DomainError):
    """The loan is not in a state from which this transition may run (HTTP 409)."""

    http_status = 409

    def __init__(self, message: str, *, code: str = "invalid_transition", **kwargs: Any) -> None:
        super().__init__(message, code=code, **kwargs)


class ConflictError(DomainError):
    """A concurrent change or a duplicate request (HTTP 409)."""

    http_status = 409

    def __init__(self, message: str, *, code: str = "conflict", **kwargs: Any) -> None:
        super().__init__(message, code=code, **kwargs)


class InputError(DomainError):
    """Bad input detected below the interface layer (HTTP 400, field-level)."""

    http_status = 400

    def __init__(self, message: str, *, code: str = "invalid", **kwargs: Any) -> None:
        super().__init__(message, code=code, **kwargs)
