"""`cskh nlu train|parse|test`, driven through `register` as bot/__main__.py will (issue 8)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.__main__ import main
from nlu.intents import INTENTS
from nlu.training import DEFAULT_DATA

TEST_DATA = DEFAULT_DATA.parent / "test.yml"
Run = Callable[..., tuple[int, str, str]]


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture
def cskh(var_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """Run `cskh ARGS...` through the real entry point, with its model cache in var_dir."""
    monkeypatch.setenv("CSKH_NLU_CACHE_DIR", str(var_dir / "nlu"))

    def run(*argv: str) -> tuple[int, str, str]:
        status = main(list(argv))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_train_reports_what_it_did(cskh: Run, var_dir: Path) -> None:
    status, out, _ = cskh("nlu", "train")
    assert status == 0
    assert f"examples, {len(INTENTS)} intents in" in out
    assert str(var_dir / "nlu") in out
    assert list((var_dir / "nlu").glob("*.npz"))


def test_parse_prints_intent_and_entities_as_json(cskh: Run) -> None:
    status, out, _ = cskh("nlu", "parse", "mất điện ở Hội An từ 1/10", "--today", "2026-11-26")
    assert status == 0
    parsed = json.loads(out)
    assert parsed["intent"]["name"] == "report_outage"
    assert 0 < parsed["intent"]["confidence"] <= 1
    assert parsed["entities"][0] == {
        "entity": "ward",
        "value": {"code": 20410, "name": "Phường Hội An", "province_code": 48},
        "start": 11,
        "end": 17,
    }
    assert parsed["entities"][-1] == {
        "entity": "date",
        "value": "2026-10-01",
        "start": 21,
        "end": 25,
    }
    assert "Hội An" in out  # ensure_ascii=False


def test_test_prints_scores_report_and_confusions(cskh: Run) -> None:
    status, out, _ = cskh("nlu", "test", str(TEST_DATA))
    assert status == 0
    assert out.startswith("accuracy 0.9")
    assert "macro F1" in out and "report_outage" in out and "most confused" in out


def test_test_json_has_accuracy_and_macro_f1(cskh: Run) -> None:
    status, out, _ = cskh("nlu", "test", str(TEST_DATA), "--json")
    assert status == 0
    result = json.loads(out)
    assert result["accuracy"] >= 0.95 and result["macro_f1"] >= 0.93
    assert set(result["per_intent"]["greet"]) == {"precision", "recall", "f1", "support"}
    assert isinstance(result["confused_pairs"], list)


def test_test_on_a_missing_file_exits_2(cskh: Run, tmp_path: Path) -> None:
    status, out, err = cskh("nlu", "test", str(tmp_path / "none.yml"))
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "No such file" in err


@pytest.mark.parametrize(
    "content",
    [
        "nlu: [\n",  # not YAML
        "- just a list\n",  # no nlu:
        "nlu:\n- intent: greet\n",  # an intent without examples
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    chào\n',  # no "- "
        "nlu: []\n",  # nothing to test
    ],
)
def test_test_on_a_malformed_file_exits_2(cskh: Run, tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(content, encoding="utf-8")
    status, _, err = cskh("nlu", "test", str(path))
    assert status == 2
    assert err.startswith("cskh nlu test: ") and err.count("\n") == 1
