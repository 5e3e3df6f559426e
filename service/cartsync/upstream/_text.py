"""Text from WordPress for apps: no HTML, entities decoded, white space folded.

Store messages and names arrive with tags and entities (``&quot;Cap&quot;``,
``&#036;100.00``), not applied consistently; every adapter cleans them the same way.
"""

from __future__ import annotations

import html
import re

_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"\s+")


def plain_text(value: str) -> str:
    """No HTML for apps: tags removed, entities decoded, white space folded."""
    return _SPACES.sub(" ", html.unescape(_TAGS.sub(" ", value))).strip()
