"""``medunlearn eval suites | suite | model``: listing, one checkpoint's figures, and bad input before any work."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ontology.common.errors import MedunlearnError
from unlearn.cli import app

cli = CliRunner()
MEDMCQA_ROW = {"question": "q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 1,
               "choice_type": "single", "exp": None, "topic_name": None}  # fmt: skip


@pytest.fixture()
def env(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared_data: Path) -> Path:
    monkeypatch.setenv("MEDUNLEARN_SHARED_DATA", str(shared_data))
    return tmp_path


def _fake_data(root: Path, shared_data: Path, rows: list[dict]) -> Path:
    """A data folder with the real MeSH files (linked, not copied) and a hand-written MedMCQA file."""
    data = root / "data"
    (data / "mesh").mkdir(parents=True)
    (data / "mesh" / "raw").symlink_to(shared_data / "mesh" / "raw")
    (data / "medmcqa").mkdir()
    lines = [json.dumps(r) for r in rows]
    (data / "medmcqa" / "medmcqa_dev.jsonl").write_text("\n".join(lines) + "\n")
    return data


def _error(args: list[str]) -> str:
    res = cli.invoke(app, args)
    assert res.exit_code != 0
    assert isinstance(res.exception, MedunlearnError), res.output
    message = str(res.exception)
    assert "\n" not in message
    return message


def test_suites_lists_both(env: Path) -> None:
    res = cli.invoke(app, ["eval", "suites", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.output)}
    assert set(rows) == {"medmcqa-surgery", "mhqa"}
    assert rows["medmcqa-surgery"]["sizes"]["small"]["model"] == "smollm2"
    assert rows["mhqa"]["sizes"]["smoke"]["model"] == "tiny-llama"
    assert rows["mhqa"]["scope_suggest"]["top"] == rows["medmcqa-surgery"]["scope_suggest"]["top"] == 10


def test_unknown_suite_is_one_line_exit_2(env: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "unlearn", "eval", "suite", "surgery-nope"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "unknown suite 'surgery-nope'" in lines[0] and "medmcqa-surgery, mhqa" in lines[0]


def test_missing_field_names_file_and_line(env: Path, shared_data: Path) -> None:
    rows = [{"id": "1", "subject_name": "Surgery", **MEDMCQA_ROW}, {"id": "2", "subject_name": "Surgery"}]
    data = _fake_data(env, shared_data, rows)
    message = _error(["eval", "suite", "medmcqa-surgery", "--data", str(data), "--out", str(env / "out")])
    assert message.endswith("medmcqa_dev.jsonl:2: missing field(s) question, opa, opb, opc, opd, cop")
    assert not (env / "out").exists()


def test_empty_split_after_filtering(env: Path, shared_data: Path) -> None:
    rows = [{"id": "s1", "subject_name": "Surgery", **MEDMCQA_ROW}]
    rows += [{"id": f"m{i}", "subject_name": "Medicine", **MEDMCQA_ROW} for i in range(4)]
    data = _fake_data(env, shared_data, rows)
    message = _error(["eval", "suite", "medmcqa-surgery", "--data", str(data), "--out", str(env / "out")])
    assert "split 'forget_holdout' is empty" in message
    # every Surgery row is oral surgery: the forget set itself is empty after filtering
    rows[0] = {**rows[0], "question": "Which tooth erupts first?"}
    data2 = _fake_data(env / "b", shared_data, rows)
    message = _error(["eval", "suite", "medmcqa-surgery", "--data", str(data2)])
    assert "no MedMCQA items left after filtering" in message and "oral/maxillofacial" in message


def test_tokenizer_without_chat_template(env: Path) -> None:
    from unlearn.models import prepare

    plain = env / "plain-model"
    shutil.copytree(prepare("tiny-llama"), plain)
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    cfg = json.loads((plain / "tokenizer_config.json").read_text())
    cfg.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(cfg))
    message = _error(["eval", "model", str(plain), "--suite", "medmcqa-surgery"])
    assert "no chat template" in message
    message = _error(["eval", "suite", "medmcqa-surgery", "--model", str(plain), "--out", str(env / "out")])
    assert "no chat template" in message
    assert not (env / "out").exists()


def test_unknown_method_topic_and_stage(env: Path) -> None:
    assert "unknown method(s) nope" in _error(["eval", "suite", "mhqa", "--methods", "dual,nope"])
    assert "unknown MHQA topic 'Grief'" in _error(["eval", "suite", "mhqa", "--forget-topic", "Grief"])
    assert "--forget-topic applies to MHQA" in _error(
        ["eval", "suite", "medmcqa-surgery", "--forget-topic", "Trauma"]
    )
    assert "unknown size 'huge'" in _error(["eval", "suite", "mhqa", "--size", "huge"])
    assert "unknown stage 'tag'" in _error(["eval", "suite", "mhqa", "--until", "tag"])


def test_eval_model_on_suite_splits(env: Path, shared_data: Path) -> None:
    from tests.unlearn.eval.test_runner import _medmcqa, _my_accuracy
    from unlearn.models import load_model

    res = cli.invoke(app, ["eval", "model", "tiny-llama", "--suite", "medmcqa-surgery", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["split_sizes"] == {"forget": 12, "forget_holdout": 12, "retain": 12, "retain_holdout": 12}
    assert set(out["mia_auc"]) == {"loss", "zlib", "min_k", "min_k_pp"}
    rows = _medmcqa(shared_data)
    items = [
        {"question": rows[i]["question"].strip(), "options": [rows[i][k].strip() for k in ("opa", "opb", "opc", "opd")],
         "answer": rows[i]["cop"]}
        for i in out["split_ids"]["forget"]
    ]  # fmt: skip
    model, tok = load_model("tiny-llama")
    assert out["forget_acc"] == pytest.approx(_my_accuracy(model, tok, items), abs=1e-9)


@pytest.mark.slow  # the suite's first stages on the real data
def test_until_masks_stops_early(env: Path) -> None:
    out = env / "run"
    res = cli.invoke(app, ["eval", "suite", "mhqa", "--limit", "3", "--until", "masks", "--out", str(out)])
    assert res.exit_code == 0, res.output
    stages = {p.name.rsplit("-", 1)[0]: p for p in (out / "stages").iterdir()}
    assert sorted(stages) == ["graph", "hierarchy", "masks", "scope"]
    splits = json.loads((out / "splits.json").read_text())["0"]
    assert all(len(v) == 3 for v in splits.values())
    # the scope is suggested on the tuning split (3 items per part with --limit 3), none of them reported
    scope = json.loads((stages["scope"] / "stage.json").read_text())["info"]
    used = scope["from"]["forget"] + scope["from"]["retain"]
    assert scope["named"] == ["F03.950"] and scope["items"][:1] == ["F03.950"] and len(used) == 12
    assert not set(used) & {i for ids in splits.values() for i in ids}
    masks = json.loads((stages["masks"] / "stage.json").read_text())
    assert masks["config"]["scope"] == stages["scope"].name and masks["info"]["scope"] == scope
    assert 0 <= masks["info"]["items_with_target"]["retain"] <= 3
