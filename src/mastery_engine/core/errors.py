"""Domain exceptions; each adapter maps them to its own channel in one place."""


class MasteryError(Exception):
    """Base class of every error the service raises on purpose."""

    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidEvent(MasteryError):
    """An event breaks the event contract; retrying it can never succeed."""

    code = "invalid_event"


class InvalidRequest(MasteryError):
    """A query parameter or request body is outside what is allowed."""

    code = "invalid_request"


class MalformedBody(InvalidRequest):
    """A request body is not JSON at all."""

    code = "malformed_body"


class InvalidConfig(MasteryError):
    """A formula setting or curriculum is inconsistent."""

    code = "invalid_config"


class MissingExtra(InvalidConfig):
    """A configured feature needs an optional extra that is not installed."""

    code = "missing_extra"


class PayloadTooLarge(MasteryError):
    """A request carries more than the service accepts at once."""

    code = "payload_too_large"


class NotFound(MasteryError):
    """The student or skill is unknown in the caller's tenant."""

    code = "not_found"


class StoreUnavailable(MasteryError):
    """The state store cannot be reached; the operation may be retried."""

    code = "store_unavailable"


class Unauthenticated(MasteryError):
    """The request carries no valid credentials."""

    code = "unauthenticated"


class Forbidden(MasteryError):
    """The caller is known but may not do this."""

    code = "forbidden"


class NotReady(MasteryError):
    """A result is still being computed; `retry_after` seconds until it likely is."""

    code = "not_ready"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(MasteryError):
    """The tenant sent more than its share; `retry_after` seconds until it may again."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
