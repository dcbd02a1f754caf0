from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import REPO, run
from validator import loading, schema_files


def test_committed_schemas_match_the_models() -> None:
    assert schema_files.drift(REPO) == [], "run `flaggate schema --write` and commit schema/"


def test_drift_is_detected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "policy.yaml").write_text((REPO / "policy.yaml").read_text())
    schema_files.write(tmp_path)
    assert run(["schema", "--check", "--root", str(tmp_path)], capsys)[0] == 0
    path = tmp_path / "schema/flag.schema.json"
    data = json.loads(path.read_text())
    data["properties"]["state"]["maxLength"] = 65
    path.write_text(json.dumps(data, indent=2) + "\n")
    code, out, _ = run(["schema", "--check", "--root", str(tmp_path)], capsys)
    assert code == 1 and "schema/flag.schema.json" in out


def test_a_model_edited_without_regenerating_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # flaggate's own repository: the hook says the generated readers and schema texts are stale.
    import shutil

    shutil.copytree(REPO / "schema", tmp_path / "schema")
    shutil.copy(REPO / "policy.yaml", tmp_path / "policy.yaml")
    (tmp_path / "validator").mkdir()
    for name in ("model.py", "metrics.py", "schema_texts.py"):
        shutil.copy(REPO / "validator" / name, tmp_path / "validator" / name)
    assert run(["schema", "--check", "--root", str(tmp_path)], capsys)[0] == 0
    model = tmp_path / "validator/model.py"
    model.write_text(model.read_text().replace("max_length=64", "max_length=65", 1))
    code, out, _ = run(["schema", "--check", "--root", str(tmp_path)], capsys)
    assert code == 1 and "validator/records.py and validator/schema_texts.py" in out and "validator.codegen" in out, out


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "flags").glob("*.yaml")))
def test_flags_validate_against_the_committed_schema(name: str) -> None:
    schema = json.loads((REPO / "schema/flag.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    doc, findings = loading.load(name, (REPO / "flags" / name).read_bytes())
    assert doc is not None and not findings
    jsonschema.Draft202012Validator(schema).validate(doc.data)


def test_every_flag_file_points_editors_at_the_schema() -> None:
    for path in (REPO / "flags").glob("*.yaml"):
        assert path.read_text().splitlines()[0] == "# yaml-language-server: $schema=../schema/flag.schema.json"
