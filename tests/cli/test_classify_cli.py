"""`jobgraph classify train|eval|predict` and `jobgraph discover`, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tests.text.conftest import needs_torch, synthetic, write_csv
from typer.testing import CliRunner

from jobgraph.cli.app import app as cli
from jobgraph.errors import UserError

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args), catch_exceptions=True)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "train.csv", synthetic(per_label=12, parents=True))


@pytest.fixture
def model(tmp_path: Path, data: Path) -> Path:
    code, out = invoke(
        "classify", "train", "--data", str(data), "--method", "lexical",
        "--out", str(tmp_path / "model"), "--json",
    )  # fmt: skip
    assert code == 0, out
    return tmp_path / "model"


def test_train_writes_a_model_folder(model: Path) -> None:
    manifest = json.loads((model / "model.json").read_text())
    assert manifest["method"] == "lexical" and len(manifest["labels"]) == 4


def test_train_k_shot_with_parents(tmp_path: Path, data: Path) -> None:
    code, out = invoke(
        "classify", "train", "--data", str(data), "--method", "lexical", "--k-shot", "3",
        "--seed", "2", "--parent-col", "family", "--out", str(tmp_path / "m"), "--json",
    )  # fmt: skip
    summary = json.loads(out)
    assert code == 0 and summary["examples"] == 12 and summary["labels"] == 4
    manifest = json.loads((tmp_path / "m" / "model.json").read_text())
    assert manifest["parents"]["refund_status"] == "payments"
    assert manifest["trained"]["k_shot"] == 3


def test_eval_json_has_the_headline_figures(model: Path, tmp_path: Path) -> None:
    test = write_csv(tmp_path / "test.csv", synthetic(per_label=5, seed=9))
    code, out = invoke("classify", "eval", "--model", str(model), "--data", str(test), "--json")
    result = json.loads(out)
    assert code == 0
    assert {"accuracy", "macro_f1", "n", "coverage"} <= set(result)
    assert result["n"] == 20 and result["accuracy"] >= 0.9
    code, out = invoke("classify", "eval", "--model", str(model), "--data", str(test))
    assert code == 0 and "accuracy" in out and "coverage" in out


def test_eval_cascade_curve(tmp_path: Path, data: Path, model: Path) -> None:
    from dataclasses import replace

    from jobgraph.text import Method, TrainSettings, load, read_examples, train

    test = write_csv(tmp_path / "test.csv", synthetic(per_label=5, seed=9))
    with pytest.raises(UserError, match="no fast first stage"):
        invoke("classify", "eval", "--model", str(model), "--data", str(test), "--cascade-curve")
    with pytest.raises(UserError, match="--cascade-curve needs --model"):
        invoke("classify", "eval", "--data", str(test), "--cascade-curve")
    # a lexical model with a weaker lexical model as its first stage (torch-free)
    examples = read_examples(data, "text", "category")
    settings = TrainSettings(method=Method.LEXICAL)
    cascaded = load(model)
    cascaded.fast = train(examples, replace(settings, C_lexical=0.05))
    cascaded.fast_threshold = 0.3
    folder = cascaded.save(tmp_path / "cascaded")
    code, out = invoke(
        "classify", "eval", "--model", str(folder), "--data", str(test), "--cascade-curve",
        "--json",
    )  # fmt: skip
    result = json.loads(out)
    assert code == 0 and result["cascade"]["threshold"] == 0.3
    assert result["cascade"]["at_threshold"]["accuracy"] == result["accuracy"]
    assert [p["threshold"] for p in result["cascade"]["curve"]][-1] == 0
    code, out = invoke(
        "classify", "eval", "--model", str(folder), "--data", str(test), "--cascade-curve"
    )
    assert code == 0 and "Fast first stage" in out and "(the model's)" in out


@needs_torch
def test_train_kernel_landmarks(tmp_path: Path, data: Path) -> None:
    for landmarks, folder in (("0", "linear"), ("20", "kernel")):
        code, out = invoke(
            "classify", "train", "--data", str(data), "--method", "embedding", "--no-cascade",
            "--kernel-landmarks", landmarks, "--out", str(tmp_path / folder), "--json",
        )  # fmt: skip
        assert code == 0, out
    linear = json.loads((tmp_path / "linear" / "model.json").read_text())
    kernel = json.loads((tmp_path / "kernel" / "model.json").read_text())
    assert "kernel" not in linear["settings"]
    assert kernel["settings"]["kernel"]["landmarks"] == 20
    with np.load(tmp_path / "kernel" / "encoder" / "head.npz") as head:
        assert head["landmarks"].shape == (20, 384)


def test_predict_texts_and_files(model: Path, tmp_path: Path, data: Path) -> None:
    code, out = invoke("classify", "predict", "--model", str(model), "my card was stolen", "--json")
    (row,) = json.loads(out)
    assert code == 0 and row["label"] == "lost_card" and row["model_version"]
    target = tmp_path / "preds.csv"
    code, out = invoke(
        "classify", "predict", "--model", str(model), "--data", str(data), "-o", str(target)
    )
    assert code == 0 and "48 predictions" in out
    assert target.read_text().splitlines()[0].startswith("text,label,best_guess")
    code, out = invoke("classify", "predict", "--model", str(model), "forgot my pin")
    assert code == 0 and "change_pin" in out


def test_bad_input_is_a_user_error(tmp_path: Path, model: Path, data: Path) -> None:
    with pytest.raises(UserError, match="no column 'label'"):
        invoke("classify", "train", "--data", str(data), "--label-col", "label",
               "--out", str(tmp_path / "x"))  # fmt: skip
    with pytest.raises(UserError, match="--method 'bert' is not one of"):
        invoke("classify", "train", "--data", str(data), "--method", "bert",
               "--out", str(tmp_path / "x"))  # fmt: skip
    with pytest.raises(UserError, match="nothing to classify"):
        invoke("classify", "predict", "--model", str(model))
    with pytest.raises(UserError, match=r"no model\.json"):
        invoke("classify", "predict", "--model", str(tmp_path), "hello")
    assert not (tmp_path / "x").exists()


def test_discover_json(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "u.csv", synthetic(per_label=10))
    code, out = invoke(
        "discover", "--data", str(data), "--label-col", "category",
        "--representation", "lexical", "--k-max", "6", "--json",
    )  # fmt: skip
    found = json.loads(out)
    assert code == 0
    assert set(found["criterion_by_k"]) == {"2", "3", "4", "5", "6"}
    assert found["scores"]["n_labels"] == 4
    assert sum(c["size"] for c in found["clusters"]) == 40
    assert all(c["name"] and c["central"] for c in found["clusters"])


def test_discover_only_what_the_model_leaves_unmapped(tmp_path: Path, model: Path) -> None:
    texts = ["my card was stolen"] * 3 + [
        "the app crashes on login", "app crashes when I log in", "login screen freezes",
        "my app will not open", "the app keeps crashing", "cannot log in to the app",
    ]  # fmt: skip
    path = tmp_path / "new.csv"
    path.write_text("text\n" + "\n".join(texts) + "\n")
    code, out = invoke(
        "discover", "--data", str(path), "--model", str(model), "--threshold", "0.9",
        "--k", "2", "--representation", "lexical", "--examples", "10", "--json",
    )  # fmt: skip
    found = json.loads(out)
    clustered = [t for c in found["clusters"] for t in c["examples"]]
    assert code == 0 and found["n"] == len(clustered) >= 4
    assert "my card was stolen" not in clustered
