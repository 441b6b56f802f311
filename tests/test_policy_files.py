"""Policy files that YAML itself refuses or that could exhaust the loader: every problem is a
PolicyError naming file:line (never a traceback), aliases are bounded, and links that lead
out of the pack are not followed."""

from __future__ import annotations

import shutil
from pathlib import Path

import packs
import pytest
from fastapi.testclient import TestClient
from service_support import ADMIN_KEY, POLICIES, FakeTrail, settings
from typer.testing import CliRunner

from igengine import PolicyError
from igengine.cli import app
from igengine.policy.validate import load_pack
from igengine.policy.yamlsource import MAX_ALIASES, YamlProblem, load_with_lines
from service import create_app

CONTROL = "id: care\ntitle: Test \x07care agreement\n"
# Nine aliases to nine aliases, nine deep: about 387 million values once expanded.
BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]\n"
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
)


def _pack_with(tmp_path: Path, name: str, text: str) -> Path:
    pack = packs.write(tmp_path / "pack", packs.agreement([packs.permit("share")]))
    (pack / "agreements" / name).write_text(text)
    return pack


def _problems(pack: Path) -> list[str]:
    """The problems, each path as given (here, absolute) shown from the pack's parent."""
    with pytest.raises(PolicyError) as raised:
        load_pack(pack)
    given = pack.parent.as_posix() + "/"
    return [str(issue).removeprefix(given) for issue in raised.value.issues]


def test_a_control_character_is_a_problem_at_its_line(tmp_path: Path) -> None:
    problems = _problems(_pack_with(tmp_path, "bad.yaml", CONTROL))
    assert problems == [
        "pack/agreements/bad.yaml:2: (file): not valid YAML: control characters are not "
        "allowed (character U+0007 here); remove it"
    ]


@pytest.mark.parametrize("command", ["check", "serve"])
def test_check_and_serve_report_a_control_character_without_a_traceback(
    tmp_path: Path, command: str
) -> None:
    pack = _pack_with(tmp_path, "bad.yaml", CONTROL)
    args = [command, str(pack)] if command == "check" else [command, "--policies", str(pack)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "bad.yaml:2" in result.output and "Traceback" not in result.output


def test_reload_reports_a_control_character_as_a_422(tmp_path: Path) -> None:
    pack = tmp_path / "policies"
    shutil.copytree(POLICIES, pack)
    client = TestClient(create_app(settings(tmp_path, policies=pack), trail=FakeTrail()))
    (pack / "agreements" / "bad.yaml").write_text(CONTROL)
    response = client.post("/v1/policies/reload", headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == 422
    assert any("bad.yaml:2" in problem for problem in response.json()["problems"])


def test_a_value_that_looks_typed_but_is_not_valid_is_a_problem_at_its_line(
    tmp_path: Path,
) -> None:
    text = "id: care\ntitle: T\nstart_date: 2026-13-45\n"
    problems = _problems(_pack_with(tmp_path, "bad.yaml", text))
    assert any(p.startswith("pack/agreements/bad.yaml:3: ") and "2026-13-45" in p for p in problems)


def test_an_alias_bomb_is_refused_at_its_line(tmp_path: Path) -> None:
    problems = _problems(_pack_with(tmp_path, "bomb.yaml", BOMB))
    assert len(problems) == 1 and problems[0].startswith("pack/agreements/bomb.yaml:5: ")
    assert "aliases (*name) repeat more than" in problems[0]


def test_aliases_beyond_the_bound_are_refused() -> None:
    few = "a: &x [1]\n" + "".join(f"k{i}: *x\n" for i in range(MAX_ALIASES))
    assert load_with_lines(few)[0]["k0"] == [1]
    with pytest.raises(YamlProblem, match=f"more than {MAX_ALIASES} aliases") as raised:
        load_with_lines(few + "last: *x\n")
    assert raised.value.line == MAX_ALIASES + 2


def test_a_pack_may_still_use_a_few_aliases(tmp_path: Path) -> None:
    plain = packs.write(tmp_path / "plain", packs.agreement([packs.permit("share")]))
    shared = (plain / "agreements" / "care.yaml").read_text()
    aliased = shared.replace("parties:", "parties: &parties").replace(
        "purposes:\n", "also: *parties\npurposes:\n", 1
    )
    assert "*parties" in aliased
    problems = _problems(_pack_with(tmp_path, "care.yaml", aliased))
    # The alias was read (and its key reported as unknown), not refused.
    assert any("'also' is not a field here" in p for p in problems)


def test_deep_nesting_under_an_anchor_is_a_problem_not_a_recursion_error() -> None:
    with pytest.raises(YamlProblem, match="nested too deeply"):
        load_with_lines("a: &q " + "[" * 990 + "]" * 990 + "\n")


def test_a_link_out_of_the_pack_is_refused_unread(tmp_path: Path) -> None:
    outside = tmp_path / "secrets.yaml"
    outside.write_text("private_key_material: do-not-echo\n")
    pack = packs.write(tmp_path / "pack", packs.agreement([packs.permit("share")]))
    (pack / "agreements" / "linked.yaml").symlink_to(outside)
    problems = _problems(pack)
    assert problems == [
        "pack/agreements/linked.yaml:1: (file): is a link to a file outside the pack "
        "directory, which is not read; copy the file into the pack instead"
    ]
    assert not any("private_key_material" in p or "do-not-echo" in p for p in problems)


def test_a_link_within_the_pack_is_still_read(tmp_path: Path) -> None:
    pack = packs.write(tmp_path / "pack", packs.agreement([packs.permit("share")]))
    (pack / "shared").mkdir()
    (pack / "organisations.yaml").rename(pack / "shared" / "organisations.txt")
    (pack / "organisations.yaml").symlink_to(pack / "shared" / "organisations.txt")
    assert len(load_pack(pack).organisations) == len(packs.ORGANISATIONS)
