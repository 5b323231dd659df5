"""Rule-based entity extraction and PII masking (language independent, spaCy free)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from neural_hive.nlu.types import Entity, EntityLabel

_MONTHS = (
    # pt
    "janeiro|fevereiro|março|marco|abril|maio|junho|julho|agosto|setembro|outubro|novembro|"
    "dezembro|"
    # es
    "enero|febrero|marzo|mayo|junio|julio|septiembre|setiembre|octubre|noviembre|diciembre"
)
_EN_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
_RELATIVE = (
    "hoje|amanhã|amanha|ontem|anteontem|today|tomorrow|yesterday|tonight|hoy|mañana|"
    "pasado mañana|ayer|anoche"
)
_WEEKDAYS = (
    "segunda-feira|terça-feira|terca-feira|quarta-feira|quinta-feira|sexta-feira|sábado|sabado|"
    "domingo|lunes|martes|miércoles|miercoles|jueves|viernes"
)
_EN_WEEKDAYS = "Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday"
_CURRENCY_WORDS = (
    "reais|real|euros?|dólares|dolares|dollars?|bucks|pesos|libras|pounds|USD|EUR|BRL|MXN|GBP"
)
_SCALE = r"(?:\s?(?:mil|milhões|milhão|millones|millón|million|billion|bi|mi|[kKMB])\b)?"

# Order matters: earlier rules win when spans overlap.
_RULES: Final[tuple[tuple[EntityLabel, re.Pattern[str]], ...]] = (
    ("EMAIL", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")),
    (
        "URL",
        re.compile(
            r"\b(?:https?|s3|gs|ftp)://[^\s,;]+|\bwww\.[^\s,;]+"
            r"|\b(?:[a-z0-9-]+\.)+(?:com|net|org|io|dev|app|gov|edu)(?:\.[a-z]{2})?\b(?:/[^\s,;]*)?",
            re.IGNORECASE,
        ),
    ),
    (
        "IP",
        re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b"),
    ),
    ("CNPJ", re.compile(r"\b\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}\b|\b\d{14}\b")),
    ("CPF", re.compile(r"\b\d{3}\.\d{3}\.\d{3}-\d{2}\b|\b\d{11}\b")),
    (
        "ID",
        re.compile(
            r"\b\d{3}-\d{2}-\d{4}\b"  # US SSN
            r"|\b[XYZ]\d{7}[A-Z]\b|\b\d{8}[A-HJ-NP-TV-Z]\b"  # ES NIE / DNI
            r"|\b[A-HJ-NP-SUVW]\d{7}[0-9A-J]\b"  # ES CIF/NIF of companies
            r"|\b[A-ZÑ&]{3,4}\d{6}[A-Z0-9]{3}\b"  # MX RFC
        ),
    ),
    (
        "TICKET",
        re.compile(r"\b[A-Z][A-Z0-9]{1,9}-\d{2,}\b|\b(?:INC|RITM|CHG|REQ)\d{4,}\b|#\d{3,}\b"),
    ),
    (
        "MONEY",
        re.compile(
            r"(?:R\$|US\$|U\$|\$|€|£|\b(?:USD|EUR|BRL|MXN|GBP))\s?\d[\d.,]*\d?"
            + _SCALE
            + r"|\b\d[\d.,]*\d?"
            + _SCALE
            + r"(?:\s(?:de\s)?)?\s?(?:€|\b(?:"
            + _CURRENCY_WORDS
            + r")\b)"
        ),
    ),
    (
        "DATE",
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b"
            r"|\b\d{1,2}\s+de\s+(?:" + _MONTHS + r")(?:\s+de\s+\d{4})?\b"
            r"|\b(?:" + _EN_MONTHS + r")\.?\s+\d{1,2}(?:st|nd|rd|th)?(?:,?\s+\d{4})?\b"
            r"|\b\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:" + _EN_MONTHS + r")\b(?:\s+\d{4})?"
            r"|\b(?:" + _EN_MONTHS + r"|" + _EN_WEEKDAYS + r")\b"
            r"|(?i:\b(?:" + _MONTHS + r"|" + _RELATIVE + r"|" + _WEEKDAYS + r")\b)"
        ),
    ),
    (
        "PHONE",
        re.compile(
            r"\+\d{1,3}[\s.-]?\(?\d{1,4}\)?(?:[\s.-]?\d{2,5}){2,4}\b"  # international
            r"|\(\d{2,3}\)\s?\d{3,5}[\s.-]?\d{4}\b"  # (11) 98765-4321, (415) 555-0134
            r"|\b\d{2}\s9?\d{4}-\d{4}\b"  # 11 91234-5678
            r"|\b\d{3}[-.]\d{3}[-.]\d{4}\b"  # 555-867-5309
            r"|\b[6-9]\d{2}\s\d{3}\s\d{3}\b|\b9\d\s\d{3}\s\d{2}\s\d{2}\b"  # ES
            r"|\b9?\d{4}-\d{4}\b"  # 98765-4321
            r"|(?i:\b(?:ramal|ext\.?|extens(?:ão|ao|ión|ion))\s?\d{3,5}\b)"
        ),
    ),
)

#: Labels that are personal data and are masked by :func:`mask_pii`.
PII_LABELS: Final[frozenset[EntityLabel]] = frozenset({"EMAIL", "PHONE", "CPF", "CNPJ", "ID"})


def _digits(text: str) -> list[int]:
    return [int(c) for c in text if c.isdigit()]


def cpf_is_valid(text: str) -> bool:
    """Check the two CPF check digits (formatting characters are ignored)."""
    d = _digits(text)
    if len(d) != 11 or len(set(d)) == 1:
        return False
    for n in (9, 10):
        total = sum(v * w for v, w in zip(d[:n], range(n + 1, 1, -1), strict=True))
        if (total * 10) % 11 % 10 != d[n]:
            return False
    return True


def cnpj_is_valid(text: str) -> bool:
    """Check the two CNPJ check digits (formatting characters are ignored)."""
    d = _digits(text)
    if len(d) != 14 or len(set(d)) == 1:
        return False
    weights = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
    for n in (12, 13):
        total = sum(v * w for v, w in zip(d[:n], weights[13 - n :], strict=True))
        check = 11 - total % 11
        if (0 if check >= 10 else check) != d[n]:
            return False
    return True


def _accept(label: EntityLabel, text: str) -> bool:
    # Bare digit runs are only CPF/CNPJ when the check digits agree.
    if label == "CPF" and text.isdigit():
        return cpf_is_valid(text)
    if label == "CNPJ" and text.isdigit():
        return cnpj_is_valid(text)
    if label == "DATE" and "/" in text:
        parts = [int(p) for p in text.split("/")]
        return 1 <= parts[0] <= 31 and 1 <= parts[1] <= 31
    return True


def extract_entities(text: str, labels: Iterable[EntityLabel] | None = None) -> list[Entity]:
    """Find entities in ``text``; spans never overlap and come back in text order."""
    wanted = None if labels is None else frozenset(labels)
    taken: list[tuple[int, int]] = []
    found: list[Entity] = []
    for label, pattern in _RULES:
        for m in pattern.finditer(text):
            start, end = m.span()
            value = m.group(0).rstrip(".,")
            end = start + len(value)
            if not value or not _accept(label, value):
                continue
            if any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            if wanted is None or label in wanted:
                found.append(Entity(label=label, text=value, start=start, end=end))
    found.sort(key=lambda e: e.start)
    return found


def mask_pii(text: str, labels: Iterable[EntityLabel] = PII_LABELS) -> str:
    """Replace personal data (e-mails, phones, CPF/CNPJ and other ids) by ``[LABEL]``."""
    out: list[str] = []
    pos = 0
    for ent in extract_entities(text, labels):
        out.append(text[pos : ent.start])
        out.append(f"[{ent.label}]")
        pos = ent.end
    out.append(text[pos:])
    return "".join(out)
