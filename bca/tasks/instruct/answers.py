"""Final-answer extraction and exact match for GSM8K-style problems.

GSM8K's reference solutions end with ``#### <number>``; fine-tuned models learn to write that line, while a
model that was never tuned on GSM8K (the zero-shot baseline) or one tuned on MetaMathQA ("The answer is: 18")
does not. So the rule is the one the C3A/MetaMath evaluations use: the number after the last ``####`` when
there is one, else the last number in the text. Numbers are compared after normalisation (thousands commas,
``$``, a trailing ``.``, ``18.00`` vs ``18``), since GSM8K's own answers contain ``1,450,000``.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# A minus sign counts only when no digit precedes it ("16-3" is 16 and 3); commas only as thousands separators.
_NUMBER = re.compile(r"(?<![\d.])-?\$?(?:\d+(?:,\d{3})*(?:\.\d+)?|\.\d+)")
MARKER = "####"


def normalise_number(text: str) -> str | None:
    """Canonical string of one number: ``"$1,450,000.00"`` -> ``"1450000"``, ``"-3.50"`` -> ``"-3.5"``.

    Returns None when ``text`` is not a number. Decimal (not float) keeps ``0.1`` exact and large ints intact.
    """
    cleaned = text.strip().replace(",", "").replace("$", "").rstrip(".")
    if not cleaned:
        return None
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _numbers(text: str) -> list[str]:
    return [n for n in (normalise_number(m.group()) for m in _NUMBER.finditer(text)) if n is not None]


def extract_answer(text: str) -> str | None:
    """The final answer of a solution: first number after the last ``####``, else the last number; or None."""
    if MARKER in text:
        found = _numbers(text.rsplit(MARKER, 1)[1])
        if found:
            return found[0]
    found = _numbers(text)
    return found[-1] if found else None


def is_correct(generated: str, reference: str) -> bool:
    """Exact match of the extracted answer against the (normalised) reference answer."""
    predicted = extract_answer(generated)
    return predicted is not None and predicted == normalise_number(reference)
