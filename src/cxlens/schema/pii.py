"""Personal data: which columns and traits are PII, and the PII policy of whoever is asking.

**What is PII.** The columns marked ``pii`` in :mod:`cxlens.schema.tables` (``customers.email``,
``customers.name``, ``tickets.body``) and the customer traits whose key names personal data
(:data:`PII_TRAIT_KEYS`: ``phone``, ``address``, ``first_name``… compared without case, ``_``,
``-`` or spaces). Customer text (comments, ticket and review bodies) is not PII as a whole, but
may contain some: :func:`cxlens.schema.redact.redact` replaces e-mails, phone and card numbers and
street addresses in it by tokens.

**Who sees it.** A :class:`PiiPolicy` says whether the caller sees personal data (``reveal``) or
sees it masked. The dashboard sets one per request from the role (:func:`policy_for`): admins,
agents (who follow up with customers) and secret API keys see it; analysts, the open mode and every
public endpoint see it masked. The library applies the current policy where an analysis is built
and where text is shown:

* a PII column or trait is never a breakdown (``by=``), a filter, a value list, a CSV column or a
  chart label for a masked caller: :func:`check_dimensions` raises :class:`~cxlens.errors.PersonalDataError`
  (403, naming the parameter);
* customer text is shown through :meth:`PiiPolicy.text` / :meth:`PiiPolicy.texts`: redacted for a
  masked caller, as written otherwise;
* a PII value is shown through :meth:`PiiPolicy.value`: :data:`MASK` for a masked caller.

Library callers (a notebook, the CLI: whoever holds the workspace file) see everything unless they
ask otherwise with ``with pii_policy(MASKED): ...``.

>>> with pii_policy(MASKED):
...     current_policy().text("mail me at ann@example.com"), is_pii_dimension("traits.Phone_Number")
('mail me at [EMAIL]', True)
>>> current_policy().reveal
True
"""

from __future__ import annotations

import contextvars
import math
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cxlens.errors import PersonalDataError
from cxlens.schema.ddl_learn import PII as _LEARN_PII
from cxlens.schema.redact import redact, redact_series
from cxlens.schema.tables import TABLES

__all__ = [
    "MASK",
    "MASKED",
    "PII_BEARING",
    "PII_COLUMNS",
    "PII_TRAIT_KEYS",
    "REVEAL",
    "PiiPolicy",
    "check_dimensions",
    "current_policy",
    "is_pii_column",
    "is_pii_dimension",
    "is_pii_key",
    "pii_policy",
    "policy_for",
]

#: what a PII value reads for a masked caller (missing values stay missing)
MASK = "***"
#: table → its PII columns (from :mod:`cxlens.schema.tables`)
PII_COLUMNS: dict[str, frozenset[str]] = {name: frozenset(t.pii_columns) for name, t in TABLES.items()}
PII_COLUMNS |= _LEARN_PII  # employees' names and e-mails, interview participants (schema/ddl_learn.py)
#: trait keys that name personal data (normalised: lower case, no ``_``, ``-``, ``.`` or spaces)
PII_TRAIT_KEYS = frozenset(
    {
        "email", "emailaddress", "mail", "name", "fullname", "firstname", "lastname", "givenname", "familyname",
        "surname", "middlename", "nickname", "username", "phone", "phonenumber", "mobile", "mobilephone", "tel",
        "telephone", "cell", "fax", "address", "streetaddress", "street", "address1", "address2", "addressline1",
        "addressline2", "postcode", "postalcode", "zip", "zipcode", "birthday", "birthdate", "dateofbirth", "dob",
        "ip", "ipaddress", "ssn", "nationalid", "taxid", "passport", "iban", "cardnumber", "creditcard",
    }
)  # fmt: skip
#: JSON columns that carry traits (identify traits land in events.properties): PII as a whole
PII_BEARING = frozenset({"traits", "properties"})
_NORMAL = re.compile(r"[\s_.\-]+")
TRAIT_PREFIX = "traits."


def is_pii_key(key: str) -> bool:
    """Whether a trait key names personal data (``Phone_Number``, ``first-name``, ``email``…)."""
    return _NORMAL.sub("", str(key).lower()) in PII_TRAIT_KEYS


def is_pii_column(table: str, column: str) -> bool:
    """Whether ``table.column`` is marked PII (canonical tables; other tables have none)."""
    return column in PII_COLUMNS.get(table, frozenset())


def is_pii_dimension(dim: str, *, fact_columns: Iterable[str] = ()) -> bool:
    """Whether the dimension ``dim`` reads personal data.

    ``traits.<key>`` is PII when ``key`` is (:func:`is_pii_key`); the JSON columns ``traits`` and
    ``properties`` are (they carry identify traits); a plain name is PII when it is a PII
    column of ``customers`` that the fact table does not have itself (a fact column of the same name
    wins: ``events.name`` is the event's name, not the customer's).
    """
    if dim.startswith(TRAIT_PREFIX):
        return is_pii_key(dim[len(TRAIT_PREFIX) :])
    if dim in PII_BEARING:
        return True
    return dim in PII_COLUMNS["customers"] and dim not in set(fact_columns)


@dataclass(frozen=True)
class PiiPolicy:
    """Whether the caller sees personal data (``reveal``) or sees it masked (see the module docstring)."""

    reveal: bool
    #: who the policy is for, for messages ("role 'analyst'", "the open mode", "a public endpoint")
    who: str = "this caller"

    def text(self, value: Any) -> Any:
        """Customer text as this caller may read it (redacted when masked; ``None`` stays ``None``)."""
        if self.reveal or not isinstance(value, str):
            return value
        return redact(value)

    def texts(self, values: pd.Series) -> pd.Series:
        """:meth:`text` over a Series (nulls stay null)."""
        return values if self.reveal else redact_series(values)

    def value(self, value: Any) -> Any:
        """A PII value as this caller may read it (:data:`MASK` when masked; missing stays missing)."""
        if self.reveal or value is None or (isinstance(value, float) and math.isnan(value)):
            return value
        return MASK

    def traits(self, traits: Any) -> Any:
        """A traits mapping with the values of PII keys masked (anything else unchanged)."""
        if self.reveal or not isinstance(traits, dict):
            return traits
        return {k: (self.value(v) if is_pii_key(k) else v) for k, v in traits.items()}


#: sees everything (library callers, admins, agents, secret keys)
REVEAL = PiiPolicy(True, "this caller")
#: sees personal data masked
MASKED = PiiPolicy(False, "this caller")

_POLICY: contextvars.ContextVar[PiiPolicy] = contextvars.ContextVar("cxlens_pii_policy", default=REVEAL)


def current_policy() -> PiiPolicy:
    """The PII policy in force for this call (:data:`REVEAL` unless a caller set another)."""
    return _POLICY.get()


@contextmanager
def pii_policy(policy: PiiPolicy) -> Iterator[PiiPolicy]:
    """Run a block under ``policy`` (threads started by the block's own pool calls inherit it)."""
    token = _POLICY.set(policy)
    try:
        yield policy
    finally:
        _POLICY.reset(token)


def set_policy(policy: PiiPolicy) -> None:
    """Set the policy for the rest of the current context (a web request's task sets it once)."""
    _POLICY.set(policy)


#: the roles that see personal data: admins, and agents who follow up with the customer
REVEALING_ROLES = ("admin", "agent")


def policy_for(role: str | None, *, key: bool = False, public: bool = False) -> PiiPolicy:
    """The dashboard's rule: ``role`` (a signed-in user), a secret ``key`` (acts as an admin), a
    ``public`` endpoint (hosted surveys, collection: masked), else the open mode (masked)."""
    if public:
        return PiiPolicy(False, "a public endpoint")
    if key:
        return PiiPolicy(True, "a secret API key")
    if role is None:
        return PiiPolicy(False, "the open mode (no sign-in)")
    return PiiPolicy(role in REVEALING_ROLES, f"role {role!r}")


def check_dimensions(
    dims: Iterable[str], *, fact_columns: Iterable[str] = (), param: str | None = None, what: str = "this analysis"
) -> None:
    """Refuse personal-data dimensions for a masked caller (:class:`~cxlens.errors.PersonalDataError`, 403).

    ``param`` names the request parameter the dimensions came from (``by``); without it each
    dimension names itself (a filter's parameter is the dimension).
    """
    policy = current_policy()
    if policy.reveal:
        return
    cols = set(fact_columns)
    for d in dims:
        if is_pii_dimension(str(d), fact_columns=cols):
            raise PersonalDataError(
                param or str(d),
                f"{param or 'dimension'} {d!r} is personal data, which {policy.who} sees masked; "
                f"{what} cannot group, filter or list by it — use a non-personal column such as segment or plan",
            )
