"""PII redaction of customer text: e-mail addresses, phone numbers, card numbers, street addresses.

Detection is rule based (regular expressions plus checks), offline and deterministic:

- ``EMAIL``: ``local@domain.tld``.
- ``CARD``: 13–19 digits, optionally grouped by single spaces or dashes, passing the Luhn check.
- ``PHONE``: 9–15 digits with optional ``+``/``00`` prefix, spaces, dots, dashes and parentheses,
  accepted only when it *looks* like a phone number: an international prefix (``+44 …``,
  ``0049 …``), a national trunk ``0`` (UK ``01736 810570``, ``0800800150``, BR ``(011) …``),
  separators grouping the digits (``555-123-4567``, ``(11) 98765-4321``), or a phone word just
  before it ("call", "phone", "tel", "mobile", "ligar", "telefone", "whatsapp"…). Dates, times,
  prices (a currency sign before the digits), lists of years and bare digit runs such as order
  numbers are left alone.
- ``ADDRESS``: a house number and a street word (``12 High Street``, ``221B Baker St``), a
  Portuguese/Spanish/French street type then a number (``Rua Augusta, 123``, ``Av. Paulista
  1578``), or a German ``…straße 5``. Free-form addresses without these markers are not found.

Each match is replaced by a token: ``[EMAIL]``, ``[PHONE]``, ``[CARD]``, ``[ADDRESS]``. Names are
not detected (that needs named-entity recognition).

Examples
--------
>>> redact("Mail jo.smith@example.co.uk or call +44 20 7946 0958 about order 123456789.")
'Mail [EMAIL] or call [PHONE] about order 123456789.'
>>> find_pii("card 4111 1111 1111 1111")
[('card', 5, 24)]
"""

from __future__ import annotations

import re

import pandas as pd

__all__ = ["PII_KINDS", "TOKENS", "find_pii", "redact", "redact_series"]

PII_KINDS = ("email", "card", "address", "phone")
TOKENS = {kind: f"[{kind.upper()}]" for kind in PII_KINDS}

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b")
_CARD = re.compile(r"(?<![\w.,+])\d(?:[ -]?\d){12,18}(?![\w]|[.,]\d)")
# digit groups of real card numbers: contiguous, 4-4-4-4(-1..3), 4-4-4-1..3, or Amex/Diners 4-6-4/5
_CARD_GROUPS = re.compile(r"\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,4}(?:\1\d{1,3})?|\d{4}([ -])\d{6}\2\d{4,5}")
# a run of digits with phone punctuation; validated by _is_phone
_PHONE = re.compile(r"(?<![\w.,/:])(?:\+|00)?\(?\d[\d ().-]{6,22}\d(?![\w]|[.,/:]\d)")
_PHONE_WORDS = re.compile(
    r"(?:call|phone|tel|telephone|mobile|cell|ring|rang|dial|whatsapp|text me|sms|fax|hotline|helpline|"
    r"number is|contact|reach me|ligar|liguei|telefone|celular|fone|contato|zap)\W{0,6}(?:\w+\W{1,4}){0,3}$",
    re.IGNORECASE,
)
# words before a number that make it an identifier, not a phone number
_ID_WORDS = re.compile(
    r"(?:pedido|order|ticket|ref|reference|tag|tags|res|reservation|confirmation|booking|invoice|nf-?e|nota|"
    r"tracking|c[óo]digo|protocolo|account|acct|case|claim|flight|voucher|#)\b\W*(?:\w+\W+){0,3}$",
    re.IGNORECASE,
)
_CURRENCY = re.compile(r"(?:[$£€¥₹]|R\$|US\$|USD|EUR|GBP|BRL|Rs\.?)\s?$", re.IGNORECASE)
_DATE = re.compile(r"\b(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})\b")
_YEAR = re.compile(r"(?:19|20)\d\d")
_STREET_WORDS = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Close|Way|Place|Pl|Court|Ct|Boulevard|Blvd|Crescent|Cres|"
    "Terrace|Gardens|Gdns|Square|Sq|Grove|Row|Mews|Parade|Highway|Hwy|Parkway|Pkwy"
)
_ADDRESS_EN = re.compile(
    r"\b\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][A-Za-z'-]+\s+){1,3}(?:" + _STREET_WORDS + r")\b\.?",
)
_ADDRESS_ROMANCE = re.compile(
    r"\b(?:Rua|R\.|Avenida|Av\.|Travessa|Tv\.|Alameda|Al\.|Praça|Pça\.|Estrada|Rodovia|Calle|C/|Rue|Via|Viale)"
    r"\s+[A-ZÀ-Ý0-9][^\n,;:.!?\d]{1,50}?,?\s*(?:n[º°o.]?\s*)?\d{1,5}[A-Za-z]?\b"
)
_ADDRESS_DE = re.compile(r"\b[A-ZÄÖÜ][a-zäöüß]{2,}(?:straße|strasse|str\.|weg|platz|gasse|allee)\s+\d{1,4}[a-z]?\b")
_ANY = re.compile(r"[\d@]")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _is_phone(text: str, start: int, candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 9 <= len(digits) <= 15:
        return False
    before = text[max(0, start - 40) : start]
    if _CURRENCY.search(before) or _DATE.search(candidate):
        return False
    groups = re.findall(r"\d+", candidate)
    if len(groups) > 1 and all(len(g) == 4 and _YEAR.fullmatch(g) for g in groups):
        return False  # "2019 2020 2021"
    if _ID_WORDS.search(before):
        return False  # "pedido 02-662119905", "e-ticket # 0162424965446", "order number is 123456789"
    if _PHONE_WORDS.search(before):
        return True
    if candidate.startswith("+"):
        return True
    if candidate.startswith("00"):
        return len(digits) >= 11 and not digits.startswith("000")  # 00 + country code + number
    if digits.startswith("0"):
        return len(digits) <= 12 and not digits.startswith("00")  # national trunk 0: UK/BR 10-12 digits
    # separators grouping the digits like a national number: (11) 98765-4321, 1-555-123-4567, 555.123.4567
    return bool(re.fullmatch(r"(?:1[ .-])?\(?\d{2,4}\)?[ .-]?\d{3,5}[ .-]\d{4}", candidate))


def find_pii(text: str | None) -> list[tuple[str, int, int]]:
    """Spans of personal data in ``text`` as ``(kind, start, end)``, sorted and non-overlapping.

    ``kind`` is one of :data:`PII_KINDS`. Where two detections overlap, the earlier kind in
    :data:`PII_KINDS` wins (an e-mail address containing digits is not also a phone number).

    Examples
    --------
    >>> find_pii("Ring 01736 810570 or write to Rua Augusta, 123")
    [('phone', 5, 17), ('address', 30, 46)]
    """
    if not text or not _ANY.search(text):
        return []
    found: list[tuple[str, int, int]] = []

    def add(kind: str, start: int, end: int) -> None:
        if not any(start < e and s < end for _, s, e in found):
            found.append((kind, start, end))

    for m in _EMAIL.finditer(text):
        add("email", m.start(), m.end())
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and _CARD_GROUPS.fullmatch(m.group()) and _luhn(digits):
            add("card", m.start(), m.end())
    for rx in (_ADDRESS_EN, _ADDRESS_ROMANCE, _ADDRESS_DE):
        for m in rx.finditer(text):
            add("address", m.start(), m.end())
    for m in _PHONE.finditer(text):
        cand = m.group()
        start = m.start()
        while cand.startswith("(") and cand.count("(") > cand.count(")"):
            cand, start = cand[1:], start + 1  # "(0800800150)": the bracket is not part of the number
        if cand.count("(") != cand.count(")"):
            continue
        if _is_phone(text, start, cand):
            add("phone", start, m.end())
    return sorted(found, key=lambda f: f[1])


def redact(text: str | None) -> str | None:
    """``text`` with every span of :func:`find_pii` replaced by its token (``[EMAIL]``, ``[PHONE]``…).

    Examples
    --------
    >>> redact("I live at 221B Baker St, card 4111-1111-1111-1111")
    'I live at [ADDRESS], card [CARD]'
    """
    spans = find_pii(text)
    if not spans:
        return text
    assert text is not None
    out, pos = [], 0
    for kind, start, end in spans:
        out.append(text[pos:start])
        out.append(TOKENS[kind])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def redact_series(texts: pd.Series) -> pd.Series:
    """:func:`redact` over a Series; nulls stay null, texts without a digit or ``@`` are not scanned.

    Examples
    --------
    >>> import pandas as pd
    >>> redact_series(pd.Series(["no pii here", None, "a@b.io"])).tolist()
    ['no pii here', None, '[EMAIL]']
    """
    out = texts.astype(object).where(texts.notna(), None)
    candidates = out.astype("string").str.contains(r"[\d@]", regex=True).fillna(False).to_numpy(dtype=bool)
    if candidates.any():
        idx = out.index[candidates]
        unique = {t: redact(t) for t in pd.unique(out[idx].to_numpy())}
        out = out.copy()
        out[idx] = [unique[t] for t in out[idx]]
    return out
