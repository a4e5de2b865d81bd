"""The one way an endpoint refuses: an error that becomes a plain-text answer with a message."""

from __future__ import annotations


class ApiError(Exception):
    """A refusal with its HTTP status and a message a person can act on."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, message)
