"""The cxlens error hierarchy.

Every error cxlens raises on purpose derives from :class:`CxlensError`; user-facing errors
also derive from the builtin they resemble, so ``except ValueError`` keeps working::

    CxlensError
    ├── SchemaError (ValueError)            bad rows, columns or values in imported data
    │   └── ImportFileError (ValueError)    a file that cannot be read at all
    ├── ConfigError (ValueError)            bad journey YAML, options or parameters
    │   ├── ParameterError                  one named parameter (query, field path) is invalid; ``.param``
    │   ├── QueryError                      a query the database refuses (bad SQL, type, value)
    │   ├── NotFittedError                  a model used before ``fit`` (409)
    │   └── ResponseConflictError           a survey already answered, a response id of another person (409)
    ├── NotFoundError (KeyError)            unknown table, metric, customer, id
    ├── WorkspaceError (RuntimeError)       workspace cannot be opened, is read-only, too new
    ├── MissingExtraError (ImportError)     an optional extra is not installed
    ├── AuthError (PermissionError)         missing, wrong or revoked key / session (401)
    │   └── ForbiddenError                  authenticated, but the role or key may not do this (403)
    │       ├── PersonalDataError           personal data asked for by a caller who sees it masked; ``.param``
    │       └── LinkGoneError               a personal survey link expired or already used (410)
    ├── PayloadTooLargeError (ValueError)   a request body, batch or string over its limit (413)
    └── RateLimitError (RuntimeError)       too many requests for one key (429)

Each error carries ``http_status`` so the web layer renders it without a lookup table.
"""

from __future__ import annotations


class CxlensError(Exception):
    """Root of every error cxlens raises on purpose."""

    http_status = 500

    def __str__(self) -> str:  # KeyError quotes its message; we never want that
        return str(self.args[0]) if self.args else self.__class__.__name__


class SchemaError(ValueError, CxlensError):
    """Incoming data does not match the canonical schema."""

    http_status = 422


class ImportFileError(SchemaError):
    """A file cannot be read (missing, unknown format, malformed)."""


class ConfigError(ValueError, CxlensError):
    """A configuration value or parameter is invalid."""

    http_status = 400


class ParameterError(ConfigError):
    """One named parameter is invalid: a query parameter, form field or JSON field path.

    ``param`` names it (``"start"``, ``"batch[3].timestamp"``) so an API error body can point at it.
    """

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param

    def __reduce__(self) -> tuple:  # picklable (errors cross process pools)
        return (type(self), (self.param, str(self)))


class QueryError(ConfigError):
    """The database refused a query: bad SQL, an unknown column, a value it cannot convert."""


class NotFittedError(ConfigError):
    """A model was used before ``fit``."""

    http_status = 409


class ResponseConflictError(ConfigError):
    """The person already answered this survey, or a response id belongs to someone else (409)."""

    http_status = 409


class NotFoundError(KeyError, CxlensError):
    """Something asked for by name or id does not exist."""

    http_status = 404
    __str__ = CxlensError.__str__


class WorkspaceError(RuntimeError, CxlensError):
    """The workspace cannot be opened or written."""

    http_status = 409


class MissingExtraError(ImportError, CxlensError):
    """An optional dependency is not installed."""

    http_status = 501

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"this feature needs the optional package '{package}'; install it with: pip install 'cxlens[{extra}]'"
        )


class AuthError(PermissionError, CxlensError):
    """No valid credentials: a missing, unknown or revoked key, or no signed-in session."""

    http_status = 401


class ForbiddenError(AuthError):
    """Valid credentials that may not do this (a write key reading, an agent managing users)."""

    http_status = 403


class PersonalDataError(ForbiddenError):
    """A PII column or trait asked for (a breakdown, filter, value list) by a caller who sees it masked (403).

    ``param`` names the request parameter (``"by"``) or the dimension.
    """

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param

    def __reduce__(self) -> tuple:  # picklable (errors cross process pools)
        return (type(self), (self.param, str(self)))


class LinkGoneError(ForbiddenError):
    """A personal link that expired or was already answered (410 Gone; a PermissionError)."""

    http_status = 410


class PayloadTooLargeError(ValueError, CxlensError):
    """A request body, batch or field is over its size limit; ``param`` may name the field."""

    http_status = 413

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param

    def __reduce__(self) -> tuple:  # picklable (errors cross process pools)
        return (type(self), (str(self), self.param))


class RateLimitError(RuntimeError, CxlensError):
    """Too many requests for one key in the current window; retry later."""

    http_status = 429

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after
