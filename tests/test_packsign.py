"""Signed packs: `igengine pack sign|verify`, and `serve --pack-public-key` refusing a pack
that is unsigned, signed by another key, or changed since signing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_support import ADMIN_KEY, POLICIES, settings
from typer.testing import CliRunner

from igengine import packsign
from igengine.cli import app
from igengine.packsign import PackSignatureError
from igengine.policy.validate import load_pack
from service import create_app

runner = CliRunner()
EDITED = "agreements/integrated-care.yaml"


@pytest.fixture
def signed(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the shipped pack signed with a new key; (pack, public key)."""
    pack = tmp_path / "policies"
    shutil.copytree(POLICIES, pack)
    key = tmp_path / "keys" / "pack.key"
    public = packsign.make_key(key)
    packsign.sign(pack, key)
    return pack, public


def _flat(output: str) -> str:
    """Output as one line (rich wraps long messages at the terminal width); paths are kept
    whole by joining the wrapped pieces without a space."""
    return "".join(output.split())


def _flip_one_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    position = raw.index(b"Only staff involved")
    raw[position] = ord("o")
    path.write_bytes(bytes(raw))


def test_a_signed_pack_verifies_and_signs_the_version_the_loader_computes(
    signed: tuple[Path, Path],
) -> None:
    pack, public = signed
    assert (pack / packsign.SIGNATURE_FILE).exists()
    verified = packsign.verify(pack, public, load_pack(pack).version)
    assert verified.version == load_pack(pack).version
    assert EDITED in verified.files


def test_one_byte_changed_is_named(signed: tuple[Path, Path]) -> None:
    pack, public = signed
    _flip_one_byte(pack / EDITED)
    with pytest.raises(PackSignatureError, match=f"policies/{EDITED} was changed"):
        packsign.verify(pack, public)


def test_files_added_and_removed_are_named(signed: tuple[Path, Path]) -> None:
    pack, public = signed
    (pack / "agreements" / "police.yaml").unlink()
    shutil.copy(pack / EDITED, pack / "agreements" / "extra.yml")
    with pytest.raises(PackSignatureError) as caught:
        packsign.verify(pack, public)
    message = str(caught.value)
    assert "policies/agreements/extra.yml was added" in message
    assert "policies/agreements/police.yaml was removed" in message


def test_another_key_is_refused(signed: tuple[Path, Path], tmp_path: Path) -> None:
    pack, _ = signed
    other = packsign.make_key(tmp_path / "other.key")
    with pytest.raises(PackSignatureError, match="signed with another key"):
        packsign.verify(pack, other)


def test_an_altered_signature_file_is_refused(signed: tuple[Path, Path]) -> None:
    pack, public = signed
    path = pack / packsign.SIGNATURE_FILE
    # Recording a changed file's new hash in the signature file does not make it pass.
    _flip_one_byte(pack / EDITED)
    fresh = packsign.contents(pack).files[EDITED]
    text = path.read_text()
    old = packsign.json.loads(text)["files"][EDITED]
    path.write_text(text.replace(old, fresh))
    with pytest.raises(PackSignatureError, match="signature file was altered"):
        packsign.verify(pack, public)


def test_cli_sign_and_verify_give_one_message_and_exit_1(
    signed: tuple[Path, Path], tmp_path: Path
) -> None:
    pack, public = signed
    ok = runner.invoke(app, ["pack", "verify", str(pack), "--public-key", str(public)])
    assert ok.exit_code == 0, ok.output
    _flip_one_byte(pack / EDITED)
    bad = runner.invoke(app, ["pack", "verify", str(pack), "--public-key", str(public)])
    assert bad.exit_code == 1
    assert f"{EDITED}waschanged" in _flat(bad.output)
    assert "Traceback" not in bad.output
    (pack / packsign.SIGNATURE_FILE).unlink()
    unsigned = runner.invoke(app, ["pack", "verify", str(pack), "--public-key", str(public)])
    assert unsigned.exit_code == 1 and "notsigned" in _flat(unsigned.output)
    not_a_pack = runner.invoke(
        app, ["pack", "sign", str(tmp_path / "nowhere"), "--key", str(tmp_path / "keys/pack.key")]
    )
    assert not_a_pack.exit_code == 1 and "notadirectory" in _flat(not_a_pack.output)
    assert not_a_pack.exception is None or isinstance(not_a_pack.exception, SystemExit)


def test_serve_refuses_to_start_with_a_pack_changed_by_one_byte(
    signed: tuple[Path, Path], tmp_path: Path
) -> None:
    pack, public = signed
    _flip_one_byte(pack / EDITED)
    keys = settings(tmp_path).keys_file
    result = runner.invoke(
        app,
        ["serve", "--policies", str(pack), "--no-audit", "--keys-file", str(keys),
         "--pack-public-key", str(public)],
    )  # fmt: skip
    assert result.exit_code == 1
    assert f"{EDITED}waschanged" in _flat(result.output)
    # The environment variable sets the same check.
    with pytest.raises(PackSignatureError):
        create_app(settings(tmp_path, policies=pack, pack_public_key=public))


def test_a_reload_to_a_changed_pack_is_refused_and_the_signed_one_stays(
    signed: tuple[Path, Path], tmp_path: Path
) -> None:
    pack, public = signed
    client = TestClient(create_app(settings(tmp_path, policies=pack, pack_public_key=public)))
    before = client.get("/v1/policies", headers={"X-API-Key": ADMIN_KEY}).json()["version"]
    _flip_one_byte(pack / EDITED)
    refused = client.post("/v1/policies/reload", headers={"X-API-Key": ADMIN_KEY})
    assert refused.status_code == 422
    assert any(f"{EDITED} was changed" in problem for problem in refused.json()["problems"])
    assert refused.json()["policy_version"] == before
