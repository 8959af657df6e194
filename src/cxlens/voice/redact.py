"""PII redaction of customer text (the rules live in :mod:`cxlens.schema.redact`, beside the PII policy
every view applies; this module keeps the name the voice package has always offered).

>>> redact("Mail jo.smith@example.co.uk or call +44 20 7946 0958 about order 123456789.")
'Mail [EMAIL] or call [PHONE] about order 123456789.'
"""

from cxlens.schema.redact import PII_KINDS, TOKENS, find_pii, redact, redact_series

__all__ = ["PII_KINDS", "TOKENS", "find_pii", "redact", "redact_series"]
