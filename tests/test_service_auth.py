"""Authentication: keys file, bearer tokens that fix the requester, sessions, settings."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from service_support import CALLER_KEY, FakeTrail, capacity_request, settings

from service import Settings, SettingsError, create_app
from service.auth import Access, KeyStore, Sessions, digest
from service.run import add_key

ISSUER = "https://idp.northgate.example"


@pytest.fixture
def issuer_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def _public_pem(tmp_path: Path, key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "issuer.pem"
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def _token(key: Ed25519PrivateKey, **claims: Any) -> str:
    body = {
        "iss": ISSUER,
        "sub": "staff-7",
        "role": "home_care_worker",
        "organisation": "NGCC",
        "exp": int(time.time()) + 300,
        **claims,
    }
    return jwt.encode(body, key, algorithm="EdDSA")


def _jwt_client(
    tmp_path: Path, key: Ed25519PrivateKey, trail: FakeTrail, **changes: Any
) -> TestClient:
    configured = settings(
        tmp_path, jwt_public_key=_public_pem(tmp_path, key), jwt_issuer=ISSUER, **changes
    )
    return TestClient(create_app(configured, trail=trail))


def test_the_token_requester_replaces_the_role_the_body_claims(
    tmp_path: Path, issuer_key: Ed25519PrivateKey
) -> None:
    trail = FakeTrail()
    client = _jwt_client(tmp_path, issuer_key, trail)
    request = capacity_request()
    request["requester"] = {"role": "safeguarding_lead", "organisation": "NGCC"}
    headers = {"X-API-Key": CALLER_KEY, "Authorization": f"Bearer {_token(issuer_key)}"}
    body = client.post("/v1/decisions", json=request, headers=headers).json()
    assert "home care worker" in body["rationale"]
    assert "safeguarding lead" not in body["rationale"]
    [(recorded, _)] = trail.entries
    assert (recorded.requester.role, recorded.requester.id) == ("home_care_worker", "staff-7")


def test_a_valid_token_alone_authenticates(tmp_path: Path, issuer_key: Ed25519PrivateKey) -> None:
    client = _jwt_client(tmp_path, issuer_key, FakeTrail())
    headers = {"Authorization": f"Bearer {_token(issuer_key, role='social_worker')}"}
    response = client.post("/v1/decisions", json=capacity_request(), headers=headers)
    assert response.status_code == 200
    assert response.json()["effect"] == "permit"


def _forged_hs256(pem: bytes) -> str:
    """The classic confusion attack: a token MACed with the issuer's public key as secret."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    claims = {"iss": ISSUER, "role": "caldicott_guardian", "organisation": "RNG",
              "exp": int(time.time()) + 300}  # fmt: skip
    signing_input = part({"alg": "HS256", "typ": "JWT"}) + "." + part(claims)
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


@pytest.mark.parametrize(
    "make",
    [
        lambda key, other, pem: _token(key, exp=int(time.time()) - 10),
        lambda key, other, pem: _token(other),
        lambda key, other, pem: _token(key, iss="https://elsewhere.example"),
        lambda key, other, pem: _token(key, role=None),
        lambda key, other, pem: _forged_hs256(pem),
        lambda key, other, pem: "not.a.token",
    ],
    ids=["expired", "other signer", "wrong issuer", "no role", "hs256 confusion", "garbage"],
)
def test_bad_tokens_get_401_even_with_a_good_key(
    tmp_path: Path, issuer_key: Ed25519PrivateKey, make: Any
) -> None:
    client = _jwt_client(tmp_path, issuer_key, FakeTrail())
    pem = (tmp_path / "issuer.pem").read_bytes()
    token = make(issuer_key, Ed25519PrivateKey.generate(), pem)
    headers = {"X-API-Key": CALLER_KEY, "Authorization": f"Bearer {token}"}
    response = client.post("/v1/decisions", json=capacity_request(), headers=headers)
    assert response.status_code == 401
    assert "bearer token" in response.json()["error"]


def test_when_tokens_are_required_a_key_alone_is_not_enough(
    tmp_path: Path, issuer_key: Ed25519PrivateKey
) -> None:
    client = _jwt_client(tmp_path, issuer_key, FakeTrail(), jwt_required=True)
    response = client.post("/v1/decisions", json=capacity_request(), headers={
        "X-API-Key": CALLER_KEY})  # fmt: skip
    assert response.status_code == 401
    assert "bearer token" in response.json()["error"]


def test_bearer_tokens_are_refused_when_no_issuer_is_configured(tmp_path: Path) -> None:
    client = TestClient(create_app(settings(tmp_path), trail=FakeTrail()))
    headers = {"X-API-Key": CALLER_KEY, "Authorization": "Bearer abc.def.ghi"}
    response = client.post("/v1/decisions", json=capacity_request(), headers=headers)
    assert response.status_code == 401


def test_the_keys_file_holds_digests_only(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    key = add_key(path, "ward-ehr", Access.CALLER)
    admin = add_key(path, "ig-lead", Access.ADMIN)
    text = path.read_text()
    assert key not in text and admin not in text and digest(key) in text
    store = KeyStore.load(path)
    found = store.authenticate(key)
    assert found is not None and found.access is Access.CALLER
    assert store.authenticate(admin) is not None
    assert store.authenticate(key + "x") is None
    with pytest.raises(SettingsError, match="already a key named 'ward-ehr'"):
        add_key(path, "ward-ehr", Access.CALLER)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[[keys]]\nname = "a"\nrole = "root"\nsha256 = "' + "0" * 64 + '"\n', "keys[0].role"),
        ('[[keys]]\nname = "a"\nrole = "caller"\nsha256 = "abc"\n', "keys[0].sha256"),
        ("[[keys]\n", "cannot read"),
    ],
)
def test_a_bad_keys_file_stops_the_service_naming_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=re.escape(problem)):
        create_app(settings(tmp_path).with_changes(keys_file=path), trail=FakeTrail())


def test_no_keys_and_no_issuer_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="nobody could call"):
        create_app(settings(tmp_path, keys_file=None), trail=FakeTrail())


def test_sessions_expire_are_tamper_proof_and_end_with_the_key(tmp_path: Path) -> None:
    store = KeyStore.load(None, (digest(CALLER_KEY),))
    key = store.authenticate(CALLER_KEY)
    assert key is not None
    sessions = Sessions("secret")
    cookie = sessions.issue(key, now=1000.0)
    assert sessions.read(cookie, store, now=1001.0) == key
    assert sessions.read(cookie, store, now=1000.0 + Sessions.LIFETIME + 1) is None
    # Change the last character (to one it is not), so the cookie is really altered.
    altered = cookie[:-1] + ("1" if cookie.endswith("0") else "0")
    assert sessions.read(altered, store, now=1001.0) is None
    assert Sessions("other").read(cookie, store, now=1001.0) is None
    assert sessions.read(cookie, KeyStore([]), now=1001.0) is None


def test_settings_survive_the_trip_through_the_environment(tmp_path: Path) -> None:
    original = settings(
        tmp_path,
        audit_url="sqlite:///x.db",
        extra_admin_hashes=("a" * 64,),
        jwt_required=True,
        jwt_public_key=tmp_path / "k.pem",
    )
    assert Settings.from_env(original.to_env()) == original
    assert Settings.from_env({"IGENGINE_AUDIT_URL": ""}).audit_url is None
    with pytest.raises(SettingsError, match="IGENGINE_CHECKPOINT_EVERY"):
        Settings.from_env({"IGENGINE_CHECKPOINT_EVERY": "often"})


def test_a_setting_left_out_in_code_is_read_from_its_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IGENGINE_SIGN_EVERY", "9")
    monkeypatch.setenv("IGENGINE_EXTRA_ADMIN_HASHES", f"{'a' * 64},{'b' * 64}")
    monkeypatch.setenv("IGENGINE_AUDIT_WITNESS", "")
    configured = Settings(policies=tmp_path, checkpoint_every=7)
    assert (configured.sign_every, configured.checkpoint_every) == (9, 7)
    assert configured.extra_admin_hashes == ("a" * 64, "b" * 64)
    assert configured.audit_witness is None and configured.policies == tmp_path


def test_a_bad_setting_is_refused_naming_its_variable_however_it_is_given(
    tmp_path: Path,
) -> None:
    with pytest.raises(SettingsError, match="IGENGINE_CHECKPOINT_EVERY: '0'"):
        settings(tmp_path).with_changes(checkpoint_every=0)
    with pytest.raises(SettingsError, match="IGENGINE_JWT_REQUIRED: 'maybe'"):
        Settings.from_env({"IGENGINE_JWT_REQUIRED": "maybe"})
