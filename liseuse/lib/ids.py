"""Row ids as they arrive in URLs, forms and searches: what counts as one.

1 to 18 ASCII digits. `str.isdigit()` alone takes "²" and full-width digits, which `int()`
refuses or reads, and a number of 19 digits or more may be past what the database holds
(SQLite: 2**63 - 1, 19 digits): both made a 500 where the answer is a 400 or a 404.
"""

from __future__ import annotations

MAX_DIGITS = 18

# The same rule, for Django's URL patterns.
PATTERN = f"[0-9]{{1,{MAX_DIGITS}}}"


def is_row_id(raw: str) -> bool:
    """Whether `raw` is a row id liseuse could have written."""
    return 0 < len(raw) <= MAX_DIGITS and raw.isascii() and raw.isdigit()
