"""The intent model: trained from the YAML, cached, numpy-served, accurate (issue 8)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from nlu import training as nlu_training
from nlu.intents import INTENTS
from nlu.language import clear_language
from nlu.model import CONFIDENT, NluModel
from nlu.normalize import normalize
from nlu.training import DEFAULT_DATA, evaluate, faq_examples, fit, load_or_train, read_examples

TEST_DATA = DEFAULT_DATA.parent / "test.yml"
ENGLISH_TEST_DATA = DEFAULT_DATA.parent / "test_en.yml"
TINY = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - chào
    - xin chào
    - hello
- intent: report_outage
  examples: |
    - mất điện
    - cúp điện rồi
    - nhà tôi không có điện
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> NluModel:
    return load_or_train(tmp_path_factory.mktemp("nlu"))


def test_data_files_cover_every_intent() -> None:
    training = Counter(e.intent for e in read_examples(DEFAULT_DATA))
    held_out = Counter(e.intent for e in read_examples(TEST_DATA))
    english = Counter(e.intent for e in read_examples(ENGLISH_TEST_DATA))
    assert set(training) == set(held_out) == set(english) == set(INTENTS)
    assert min(training.values()) >= 25
    assert min(held_out.values()) >= 10
    assert min(english.values()) >= 10


def test_every_intent_has_english_training_examples() -> None:
    # Counted by the language check, which leaves out short ones ("yes", "thank you").
    english = Counter(
        e.intent for e in read_examples(DEFAULT_DATA) if clear_language(e.text) == "en"
    )
    assert set(english) == set(INTENTS)
    assert min(english.values()) >= 10


@pytest.mark.parametrize("held_out", [TEST_DATA, ENGLISH_TEST_DATA], ids=["vi", "en"])
def test_held_out_sentences_are_not_training_sentences(held_out: Path) -> None:
    training = {normalize(e.text) for e in read_examples(DEFAULT_DATA)}
    assert [e.text for e in read_examples(held_out) if normalize(e.text) in training] == []


def test_accuracy_on_the_held_out_set(model: NluModel) -> None:
    evaluation = evaluate(model, read_examples(TEST_DATA))
    assert evaluation.accuracy >= 0.95
    assert evaluation.macro_f1 >= 0.93


def test_accuracy_on_the_held_out_english_set(model: NluModel) -> None:
    evaluation = evaluate(model, read_examples(ENGLISH_TEST_DATA))
    assert evaluation.accuracy >= 0.95
    assert evaluation.macro_f1 >= 0.93


def test_numpy_inference_equals_scikit_learn(model: NluModel) -> None:
    texts = [e.text for e in read_examples(TEST_DATA)]
    # The served model learned the FAQ's questions as a class of their own (issue 19).
    pipeline = fit([*read_examples(DEFAULT_DATA), *faq_examples()])
    expected = pipeline.predict_proba(texts)
    served = np.array([model.probabilities(text) for text in texts])
    assert list(pipeline.classes_) == list(model.classes)
    assert list(pipeline.predict(texts)) == [model.classes[i] for i in served.argmax(axis=1)]
    assert np.abs(served - expected).max() < 1e-6


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("mat dien roi", "report_outage"),
        ("Nhà tôi bị cúp điện từ sáng tới giờ", "report_outage"),
        ("lịch cúp điện ngày mai ở Hội An", "lookup_outage_schedule"),
        ("hoa don thang 9", "lookup_invoice"),
        ("gửi mình hđ điện tử tháng trước", "lookup_invoice"),
        ("ko dong dc tien dien", "pay_bill"),
        ("thanh toán qua momo được không", "pay_bill"),
        ("tinh tien 250 so", "estimate_bill"),
        ("dùng 400 kWh hết bao nhiêu tiền", "estimate_bill"),
        ("tháng này nhà tôi hết bao nhiêu tiền điện", "lookup_payment_info"),
        ("còn nợ tiền điện không", "lookup_payment_info"),
        ("tháng trước xài bao nhiêu số điện", "lookup_consumption"),
        ("điểm thu tiền điện gần nhất", "lookup_payment_points"),
        ("khi nào nhân viên đến ghi chỉ số", "lookup_meter_schedule"),
        ("toi muon gap nhan vien", "talk_to_human"),
        ("hom nay troi co mua khong", "out_of_scope"),
        ("chào em", "greet"),
        ("cảm ơn nhiều nha", "thanks"),
        ("tạm biệt nhé", "goodbye"),
        ("đúng rồi", "affirm"),
        ("không phải", "deny"),
        ("bot làm được những gì", "help"),
        ("đăng nhập tài khoản", "login"),
        ("đổi mã pin ứng dụng", "set_password"),
        ("hồ sơ lắp điện của tôi tới đâu rồi", "track_request"),
        ("đăng ký lắp điện cho nhà mới", "svc_new_connection"),
        ("đổi số điện thoại đã đăng ký", "svc_change_info"),
        ("chuyển công tơ 1 pha sang 3 pha", "svc_change_capacity"),
        ("di dời công tơ ra ngoài cổng", "svc_move_meter"),
        ("đồng hồ điện chạy nhanh bất thường", "svc_check_meter"),
        ("đổi sang giá điện kinh doanh", "svc_change_purpose"),
        ("đăng ký định mức cho người thuê trọ", "svc_change_quota"),
        ("gia hạn hđ mua bán điện", "svc_renew_contract"),
        ("chấm dứt hđ", "svc_terminate_contract"),
        ("đã trả nợ, xin cấp điện trở lại", "svc_reconnect"),
        ("đăng ký trích nợ tự động", "svc_change_payment_method"),
        ("sang tên hợp đồng cho người mua nhà", "svc_change_owner"),
        ("cách dùng điện tiết kiệm mùa hè", "consult_usage"),
        ("tư vấn thiết kế trạm biến áp", "consult_design"),
        ("tôi muốn khiếu nại tiền điện", "complaint"),
        ("khi nào có điện lại", "ask_power_back"),
        ("bao gio moi co dien vay ad", "ask_power_back"),
        ("đóng tiền rồi xin cấp điện lại", "svc_reconnect"),
        ("How much is my electricity bill?", "lookup_payment_info"),
        ("no electricity", "report_outage"),
        ("I want to pay my bill", "pay_bill"),
        ("power outage in my area", "report_outage"),
        ("when will the power come back?", "ask_power_back"),
        ("I paid the debt, please reconnect my electricity", "svc_reconnect"),
    ],
)
def test_realistic_sentences(model: NluModel, text: str, intent: str) -> None:
    assert model.parse(text).intent == intent


def test_parse_gives_confidence_ranking_and_entities(model: NluModel) -> None:
    parsed = model.parse("tính tiền 250 số")
    assert parsed.intent == "estimate_bill"
    assert parsed.confidence >= CONFIDENT
    assert len(parsed.ranking) == 3
    assert parsed.ranking[0] == (parsed.intent, parsed.confidence)
    assert [p for _, p in parsed.ranking] == sorted((p for _, p in parsed.ranking), reverse=True)
    assert parsed.as_dict()["entities"] == [{"entity": "kwh", "value": 250, "start": 10, "end": 16}]
    assert parsed.as_dict()["intent"]["name"] == "estimate_bill"


def test_gibberish_is_not_confident(model: NluModel) -> None:
    assert model.parse("qwxz zzkj").confidence < CONFIDENT


def test_the_cache_is_reused_and_retrained_when_the_yaml_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "nlu.yml"
    data.write_text(TINY, encoding="utf-8")
    trainings: list[Path | None] = []
    real_train = nlu_training.train

    def counting_train(path: Path | None = None) -> tuple[NluModel, nlu_training.TrainingSummary]:
        trainings.append(path)
        return real_train(path)

    monkeypatch.setattr(nlu_training, "train", counting_train)
    cache = tmp_path / "var" / "nlu"
    first = load_or_train(cache, data)
    cached_file = next(cache.glob("*.npz"))
    written = cached_file.stat().st_mtime_ns
    second = load_or_train(cache, data)
    assert len(trainings) == 1
    assert cached_file.stat().st_mtime_ns == written
    assert second.key == first.key and second.parse("mất điện").intent == "report_outage"

    data.write_text(TINY + "    - điện tắt hết rồi\n", encoding="utf-8")
    third = load_or_train(cache, data)
    assert len(trainings) == 2
    assert third.key != first.key
    assert load_or_train(cache, data).key == third.key and len(trainings) == 2


def test_serving_does_not_import_scikit_learn(model: NluModel, tmp_path: Path) -> None:
    model.save(tmp_path)
    script = (
        "import sys; from pathlib import Path; from nlu.training import load_or_train; "
        f"m = load_or_train(Path({str(tmp_path)!r})); m.parse('mất điện ở Hội An'); "
        "print('sklearn' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_numpy_inference_equals_scikit_learn_with_two_intents(tmp_path: Path) -> None:
    data = tmp_path / "nlu.yml"
    data.write_text(TINY, encoding="utf-8")
    served, _ = nlu_training.train(data)
    expected = fit(read_examples(data)).predict_proba(["mất điện", "chào bạn"])
    assert (
        np.abs(
            np.array([served.probabilities("mất điện"), served.probabilities("chào bạn")])
            - expected
        ).max()
        < 1e-6
    )
