"""Deterministic pt/en/es language detection from function words and spelling cues.

No model and no spaCy: short informal requests are dominated by function words
("o", "não", "pra" / "the", "can" / "el", "no", "para"), and Portuguese and Spanish,
which share most vocabulary, differ in a handful of spellings (ção/ción, nh/ñ, lh/ll,
ão, ç). Each language gets a score from weighted word and character-sequence cues.
"""

from __future__ import annotations

import re
from typing import Final

from neural_hive.nlu.types import LANGUAGES, Language


def _words(text: str) -> list[str]:
    return text.split()


_WORDS: Final[dict[Language, dict[str, float]]] = {
    "pt": {
        **dict.fromkeys(
            _words(
                "o os um uma uns umas do da dos das no na nos nas ao aos pelo pela pelos pelas "
                "num numa em é são não nao está esta estão tá ta tô to pra pro pros você voce "
                "vocês vcs eu ele ela eles elas isso isto essa esse nessa nesse dessa desse meu "
                "minha seu sua nosso nossa também tambem já ja mas porque porquê então entao aqui "
                "agora hoje ontem amanhã amanha ainda depois quando como onde qual quais quem tem "
                "têm ter foi fazer faz precisa preciso alguém alguem nada muito muita mais "
                "obrigado obrigada valeu oi olá ola bom boa dia tarde pessoal galera consegue dá "
                "da gente fica ficou vai vou sobre até ate cadê cade pfv vlw obg tudo em com sem "
                "ou só so muito mesmo cedo ninguém ninguem precisamos quer quero ao dele dela "
                "numa pelo vez cai toda isso "
            ),
            1.0,
        ),
    },
    "es": {
        **dict.fromkeys(
            _words(
                "el los la las un una unos unas del al en es son no está esta están estan y hay "
                "muy pero porque entonces aquí aqui ahora hoy ayer mañana manana todavía todavia "
                "después despues cuando cómo como dónde donde cuál cual cuáles quién quien tiene "
                "tienen tener fue hacer hace necesita necesito alguien nada mucho mucha más mas "
                "gracias hola buenos buenas días dias tarde equipo puede pueden podéis podemos os "
                "vosotros usted ustedes yo él ella ellos ellas eso esto esa ese mi mis su sus "
                "nuestro nuestra también tambien ya hasta sobre desde se le les lo me te nos va "
                "voy vamos hemos han he ha sí si qué que por favor porfa toca pasa sigue sin cada "
                "hacen falta con u ni otra otro algún algun nadie queremos quiero cuánto cuanto "
                "poner "
            ),
            1.0,
        ),
    },
    "en": {
        **dict.fromkeys(
            _words(
                "the a an of to in on at for with from by is are was were be been it its this "
                "that these those and or but not no can can't cannot could would should will "
                "won't do does did don't doesn't didn't have has had we our us you your i my me "
                "he she they their them what which who whom when where why how there here please "
                "thanks thank hi hey hello anyone someone need needs want get got just still "
                "already again since into about after before up out over all any keeps keep is "
                "isn't aren't it's i'm we're let's "
            ),
            1.0,
        ),
    },
}

# Words that exist in both Iberian languages get no weight; distinctive ones get more.
for _w in ("no", "a", "me", "te", "se", "nos", "mas", "que", "tarde", "sobre", "como", "da", "por"):
    for _lang in ("pt", "es"):
        _WORDS[_lang].pop(_w, None)
for _w, _v in {
    "não": 2.0,
    "nao": 1.5,
    "você": 2.0,
    "pra": 2.0,
    "tá": 1.5,
    "é": 1.5,
    "obrigado": 2.0,
    "também": 1.5,
    "as": 1.0,
    "ajuda": 1.0,
    "dúvida": 1.0,
    "duvida": 1.0,
    "novidade": 1.0,
    "alguma": 1.0,
    "algum": 1.0,
    "mês": 1.0,
    "há": 1.0,
    "pela": 1.0,
}.items():
    _WORDS["pt"][_w] = _v
for _w, _v in {
    "el": 2.0,
    "los": 2.0,
    "y": 2.0,
    "del": 2.0,
    "hay": 2.0,
    "muy": 1.5,
    "qué": 1.5,
    "gracias": 2.0,
    "está": 0.5,
    "esta": 0.5,
    "también": 1.5,
    "ayuda": 1.0,
    "duda": 1.0,
    "novedades": 1.0,
    "alguna": 1.0,
    "mes": 1.0,
    "hace": 1.0,
    "tras": 1.0,
}.items():
    _WORDS["es"][_w] = _v
for _w, _v in {
    "the": 2.0,
    "and": 1.5,
    "is": 1.5,
    "to": 1.5,
    "of": 1.5,
    "please": 2.0,
    "a": 0.3,
    "do": 0.3,
    "no": 0.2,
    "on": 0.6,
    "me": 0.3,
    "as": 0.3,
    "low": 1.0,
}.items():
    _WORDS["en"][_w] = _v

_CHARS: Final[dict[Language, tuple[tuple[re.Pattern[str], float], ...]]] = {
    "pt": (
        (re.compile(r"ção|ções|cao\b|coes\b"), 2.0),
        (re.compile(r"ão\b|ões\b|ãe"), 2.0),
        (re.compile(r"[ãõç]"), 1.0),
        (re.compile(r"nh|lh"), 0.7),
        (re.compile(r"\w[aeiou]m\b"), 0.3),
        (re.compile(r"\w(?:mento|agem|dade|ável|ível)s?\b|\w(?:ei|ou)\b"), 0.8),
    ),
    "es": (
        (re.compile(r"ción|ciones|cion\b"), 2.0),
        (re.compile(r"[ñ¿¡]"), 2.0),
        (re.compile(r"ll"), 0.4),
        (re.compile(r"\w(?:ado|ido)s?\b"), 0.1),
        (re.compile(r"\w(?:áis|éis|ais)\b"), 1.0),
        (re.compile(r"\w(?:miento|aje|dad)s?\b"), 0.8),
    ),
    "en": (
        (re.compile(r"\w(?:ing|ed|tion)\b"), 0.4),
        (re.compile(r"\bth|sh|\w'[st]\b|wh"), 0.4),
        (re.compile(r"\w(?:y|ly)\b"), 0.2),
    ),
}

_TOKEN = re.compile(r"[\wÀ-ÿ']+")


def language_scores(text: str) -> dict[Language, float]:
    """Unnormalised evidence for each language (higher is more likely)."""
    lowered = text.lower()
    scores: dict[Language, float] = dict.fromkeys(LANGUAGES, 0.0)
    for token in _TOKEN.findall(lowered):
        for lang in LANGUAGES:
            scores[lang] += _WORDS[lang].get(token, 0.0)
    for lang in LANGUAGES:
        for pattern, weight in _CHARS[lang]:
            scores[lang] += weight * len(pattern.findall(lowered))
    return scores


def detect_language(text: str, default: Language = "pt") -> tuple[Language, float]:
    """Return ``(language, confidence)``; ``default`` wins when there is no evidence.

    Confidence is the winner's share of the total evidence (1.0 when only one
    language has any).
    """
    scores = language_scores(text)
    total = sum(scores.values())
    if total <= 0.0:
        return default, 0.0
    best = max(LANGUAGES, key=lambda lang: (scores[lang], lang == default))
    return best, scores[best] / total
