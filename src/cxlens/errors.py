"""The cxlens error hierarchy.

Every error cxlens raises on purpose derives from :class:`CxlensError`; user-facing errors
also derive from the builtin they resemble, so ``except ValueError`` keeps working::

    CxlensError
    ├── SchemaError (ValueError)            bad rows, columns or values in imported data
    │   └── ImportFileError (ValueError)    a file that cannot be read at all
    ├── ConfigError (ValueError)            bad journey YAML, options or parameters
    ├── NotFoundError (KeyError)            unknown table, metric, customer, id
    ├── WorkspaceError (RuntimeError)       workspace cannot be opened, is read-only, too new
    ├── MissingExtraError (ImportError)     an optional extra is not installed
    ├── AuthError (PermissionError)         missing, wrong or revoked key / session (401)
    │   └── ForbiddenError                  authenticated, but the role or key may not do this (403)
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


class PayloadTooLargeError(ValueError, CxlensError):
    """A request body, batch or field is over its size limit."""

    http_status = 413


class RateLimitError(RuntimeError, CxlensError):
    """Too many requests for one key in the current window; retry later."""

    http_status = 429

    def __init__(self, message: str, retry_after: float = 1.0):
        super().__init__(message)
        self.retry_after = retry_after
