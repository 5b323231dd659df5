"""Language detection, entity rules and PII masking (no model needed)."""

from __future__ import annotations

import pytest
from nlu_fixtures import DATA

from neural_hive.nlu import detect_language, extract_entities, mask_pii
from neural_hive.nlu.data import read_examples
from neural_hive.nlu.entities import cnpj_is_valid, cpf_is_valid


def test_language_detection_accuracy_on_the_data_set() -> None:
    examples = read_examples(DATA)
    for lang in ("pt", "en", "es"):
        subset = [e for e in examples if e.lang == lang]
        correct = sum(detect_language(e.text)[0] == lang for e in subset)
        assert correct / len(subset) >= 0.98, lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("não consigo acessar o sistema", "pt"),
        ("the deploy failed again", "en"),
        ("no puedo entrar en el sistema", "es"),
        ("a VPN caiu de novo pra todo mundo", "pt"),
        ("¿quién aprueba las vacaciones?", "es"),
    ],
)
def test_language_detection_cases(text: str, lang: str) -> None:
    assert detect_language(text)[0] == lang


def test_language_detection_falls_back_to_default() -> None:
    assert detect_language("12345 ???", default="en") == ("en", 0.0)


def _labels(text: str) -> list[tuple[str, str]]:
    return [(e.label, e.text) for e in extract_entities(text)]


def test_entities_portuguese() -> None:
    text = (
        "cliente CPF 529.982.247-25, CNPJ 11.222.333/0001-81, ligou do (11) 98765-4321, "
        "e-mail ana.lima@empresa.com.br, cobrança de R$ 1.250,00 vencida em 15/03/2025"
    )
    assert _labels(text) == [
        ("CPF", "529.982.247-25"),
        ("CNPJ", "11.222.333/0001-81"),
        ("PHONE", "(11) 98765-4321"),
        ("EMAIL", "ana.lima@empresa.com.br"),
        ("MONEY", "R$ 1.250,00"),
        ("DATE", "15/03/2025"),
    ]


def test_entities_english() -> None:
    text = "call (415) 555-0134 about the $12k invoice INC0012345 due March 3rd, from 203.0.113.45"
    assert _labels(text) == [
        ("PHONE", "(415) 555-0134"),
        ("MONEY", "$12k"),
        ("TICKET", "INC0012345"),
        ("DATE", "March 3rd"),
        ("IP", "203.0.113.45"),
    ]


def test_entities_spanish() -> None:
    text = "llamad al +34 612 345 678: factura de 1.250 € del 30 de abril, DNI 12345678Z"
    assert _labels(text) == [
        ("PHONE", "+34 612 345 678"),
        ("MONEY", "1.250 €"),
        ("DATE", "30 de abril"),
        ("ID", "12345678Z"),
    ]


def test_bare_digit_runs_need_valid_check_digits() -> None:
    assert _labels("cpf 52998224725") == [("CPF", "52998224725")]
    assert _labels("pedido 12345678901") == []
    assert cpf_is_valid("529.982.247-25")
    assert not cpf_is_valid("111.111.111-11")
    assert cnpj_is_valid("11.222.333/0001-81")
    assert not cnpj_is_valid("11.222.333/0001-82")


def test_mask_pii() -> None:
    text = "sou o cpf 123.456.789-09, fone +55 21 99876-1234, mail joao@x.com.br, R$ 50"
    assert mask_pii(text) == "sou o cpf [CPF], fone [PHONE], mail [EMAIL], R$ 50"
    assert mask_pii("SSN 078-05-1120 and j.doe@outlook.com") == "SSN [ID] and [EMAIL]"
    assert mask_pii("nothing personal here") == "nothing personal here"
