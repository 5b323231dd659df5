"""The trained classifier: held-out quality, calibration, determinism, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from nlu_fixtures import DATA, REPO, heldout

from neural_hive.nlu.classifier import IntentClassifier
from neural_hive.nlu.data import Example, assign_splits, read_examples, training_examples
from neural_hive.nlu.metrics import macro_f1
from neural_hive.nlu.pipeline import TrainConfig, train_models
from neural_hive.nlu.types import CLASSIFICATIONS, DOMAINS

__all__ = ["heldout"]

pytestmark = pytest.mark.timeout(600)


def _f1_per_language(clf: IntentClassifier, examples: list[Example]) -> dict[str, float]:
    out = {}
    for lang in ("pt", "en", "es"):
        subset = [e for e in examples if e.lang == lang]
        pred = [clf.classify(e.text, lang).domain for e in subset]
        out[lang] = macro_f1([e.domain for e in subset], pred, DOMAINS)
    return out


# The product target (issue 3): held-out macro-F1 of at least 0.90 in every language.
# Training is deterministic; data/nlu/README.md has the measured figures.
HELDOUT_MACRO_F1_FLOOR = 0.90


def test_heldout_macro_f1_meets_the_target(
    nlu_classifier: IntentClassifier, heldout: list[Example]
) -> None:
    scores = _f1_per_language(nlu_classifier, heldout)
    assert set(scores) == {"pt", "en", "es"}
    for lang, f1 in scores.items():
        assert f1 >= HELDOUT_MACRO_F1_FLOOR, (lang, scores)


def test_split_is_stored_stratified_and_disjoint() -> None:
    examples = read_examples(DATA)
    assert all(e.split in ("train", "heldout") for e in examples)
    # The stored split is the documented rule, applied once.
    rule = assign_splits(examples)
    assert all(rule[e.text] == e.split for e in examples)
    train_texts = {e.text for e in examples if e.split == "train"}
    held = [e for e in examples if e.split == "heldout"]
    assert not train_texts & {e.text for e in held}
    for lang in ("pt", "en", "es"):
        for domain in DOMAINS:
            for cls in CLASSIFICATIONS[domain]:
                group = [
                    e
                    for e in examples
                    if (e.lang, e.domain, e.classification) == (lang, domain, cls)
                ]
                n_held = sum(e.split == "heldout" for e in group)
                assert n_held == round(0.2 * len(group)), (lang, domain, cls)


def test_training_never_reads_heldout_lines(tmp_path: Path) -> None:
    assert all(e.split == "train" for e in training_examples(DATA))
    unsplit = tmp_path / "x.jsonl"
    unsplit.write_text(
        '{"text": "a", "lang": "en", "domain": "BUSINESS", "classification": "report"}\n'
    )
    with pytest.raises(ValueError, match="no 'split'"):
        training_examples(tmp_path)


def test_training_data_is_fitted(nlu_classifier: IntentClassifier) -> None:
    train = training_examples(DATA)[::5]
    correct = sum(nlu_classifier.classify(e.text, e.lang).domain == e.domain for e in train)
    assert correct / len(train) >= 0.9


def test_low_confidence_is_wrong_more_often(
    nlu_classifier: IntentClassifier, heldout: list[Example]
) -> None:
    results = sorted(
        ((nlu_classifier.classify(e.text, e.lang), e) for e in heldout),
        key=lambda pair: pair[0].confidence,
    )
    third = len(results) // 3
    low_err = sum(r.domain != e.domain for r, e in results[:third]) / third
    high_err = sum(r.domain != e.domain for r, e in results[-third:]) / third
    assert low_err > high_err + 0.1, (low_err, high_err)


def test_result_shape(nlu_classifier: IntentClassifier) -> None:
    text = "o cliente 529.982.247-25 foi cobrado duas vezes, estorna R$ 89,90 até 15/03"
    result = nlu_classifier.classify(text)
    assert result.lang == "pt"
    assert result.lang_detected
    assert result.domain in DOMAINS
    assert result.classification in CLASSIFICATIONS[result.domain]
    assert abs(sum(result.scores.values()) - 1.0) < 1e-3
    assert result.confidence == max(result.scores.values())
    assert {e.label for e in result.entities} >= {"CPF", "MONEY", "DATE"}
    assert result.keywords
    assert all(k == k.lower() for k in result.keywords)
    assert nlu_classifier.classify(text, "pt-BR").lang_detected is False


def test_training_is_deterministic() -> None:
    subset = [e for e in training_examples(DATA) if e.lang == "es"][:160]
    cfg = TrainConfig(epochs=3, languages=("es",))
    first = train_models(subset, cfg)["es"]
    second = train_models(subset, cfg)["es"]
    texts = [e.text for e in subset[:40]] + ["el servidor no responde", "factura duplicada"]
    for text in texts:
        assert first(text).cats == second(text).cats


def test_load_does_not_import_torch(nlu_model_dir: Path) -> None:
    code = (
        "import sys\n"
        "from neural_hive.nlu.classifier import IntentClassifier\n"
        f"clf = IntentClassifier.load({str(nlu_model_dir)!r})\n"
        "clf.classify('the deploy failed')\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "print(sorted(clf.languages))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "['en', 'es', 'pt']"


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    return subprocess.run(
        [sys.executable, "-m", "neural_hive.nlu.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=300,
    )


def test_predict_cli(nlu_model_dir: Path) -> None:
    lines = [
        {"text": "the load balancer returns 502 for half the requests"},
        {"text": "preciso de acesso ao bucket de relatórios", "lang": "pt"},
        {"text": "¿cuándo estará el cierre contable de marzo?"},
    ]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\n"
    proc = _cli("predict", "--model", str(nlu_model_dir), stdin=stdin)
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [o["lang"] for o in out] == ["en", "pt", "es"]
    for o in out:
        assert o["domain"] in DOMAINS
        assert 0.0 <= o["confidence"] <= 1.0
        assert {"classification", "entities", "keywords"} <= o.keys()


def test_predict_cli_reports_bad_lines(nlu_model_dir: Path) -> None:
    proc = _cli("predict", "--model", str(nlu_model_dir), stdin='not json\n{"text": "ok"}\n')
    assert proc.returncode == 1
    out = [json.loads(x) for x in proc.stdout.splitlines()]
    assert "error" in out[0]
    assert out[1]["domain"] in DOMAINS


def test_evaluate_cli(nlu_model_dir: Path) -> None:
    proc = _cli("evaluate", str(DATA), "--model", str(nlu_model_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert set(report["languages"]) == {"pt", "en", "es"}
    held_out = read_examples(DATA, split="heldout")
    for lang, scores in report["languages"].items():
        assert 0.0 <= scores["macro_f1"] <= 1.0
        # the held-out lines only (default --split heldout)
        assert scores["n"] == sum(e.lang == lang for e in held_out)
        assert scores["n"] < sum(e.lang == lang for e in read_examples(DATA))


def test_evaluate_cli_rejects_bad_file(nlu_model_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"text": "x", "lang": "fr", "domain": "BUSINESS", "classification": "report"}\n'
    )
    proc = _cli("evaluate", str(bad), "--model", str(nlu_model_dir))
    assert proc.returncode == 2
    assert "lang" in proc.stderr
    assert "bad.jsonl:1" in proc.stderr
    missing = _cli("evaluate", str(tmp_path / "nope.jsonl"), "--model", str(nlu_model_dir))
    assert missing.returncode == 2
    assert "no such file" in missing.stderr
