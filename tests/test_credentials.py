"""Credential references: resolved only when asked, errors name the variable, never a value,
and resolved values are registered for redaction."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from reconciler.kernel import redact
from reconciler.kernel.credentials import resolve, resolve_ref, variable_of
from reconciler.kernel.errors import CredentialsError
from reconciler.kernel.model import Account, Credentials


@pytest.fixture(autouse=True)
def clean_registry() -> Iterator[None]:
    redact.clear()
    yield
    redact.clear()


ACCOUNT = Account("eu", "A2EXAMPLEEU001", "EU", "production", (),
                  Credentials(refresh_token="env/SP_API_REFRESH_TOKEN_EU"))


def test_resolves_and_registers_for_redaction() -> None:
    env = {"SP_API_REFRESH_TOKEN_EU": "Atzr|refresh-secret-1234", "LWA_APP_ID": "amzn1.app",
           "LWA_CLIENT_SECRET": "client-secret-5678"}
    creds = resolve(ACCOUNT, env)
    assert creds.refresh_token == "Atzr|refresh-secret-1234"
    assert redact.redact("token Atzr|refresh-secret-1234 used") == "token *** used"
    assert "refresh-secret" not in repr(creds) and "5678" not in repr(creds)


def test_missing_variables_are_named_without_values() -> None:
    env = {"LWA_APP_ID": "amzn1.application-oa2-client.visible-value"}
    with pytest.raises(CredentialsError) as e:
        resolve(ACCOUNT, env)
    msg = str(e.value)
    assert "SP_API_REFRESH_TOKEN_EU" in msg and "LWA_CLIENT_SECRET" in msg
    assert "visible-value" not in msg and "'eu'" in msg


def test_single_reference() -> None:
    assert resolve_ref("env/SP_API_X_TOKEN", {"SP_API_X_TOKEN": "abcdefgh"}) == "abcdefgh"
    with pytest.raises(CredentialsError, match="SP_API_X_TOKEN is not set"):
        resolve_ref("env/SP_API_X_TOKEN", {})


@pytest.mark.parametrize(
    "name",
    ["PATH", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY", "X_TOKEN", "SP_API_", "LWA", "sp_api_x"],
)
def test_references_outside_the_allowed_names_are_refused(name: str) -> None:
    env = {name: "a-ci-secret-value"}
    with pytest.raises(CredentialsError) as e:
        resolve_ref(f"env/{name}", env)
    msg = str(e.value)
    assert f"env/{name}" in msg and "SP_API_*, LWA_*, RECONCILER_*" in msg
    assert "a-ci-secret-value" not in msg
    assert redact.redact("a-ci-secret-value") == "a-ci-secret-value"  # never even read


@pytest.mark.parametrize(
    "name", ["SP_API_REFRESH_TOKEN", "LWA_APP_ID", "LWA_CLIENT_SECRET", "RECONCILER_NA_TOKEN"]
)
def test_documented_names_are_allowed(name: str) -> None:
    assert variable_of(f"env/{name}") == name


def test_malformed_reference_is_not_echoed() -> None:
    with pytest.raises(CredentialsError) as e:
        variable_of("Atzr|pasted-secret-value")
    assert "pasted" not in str(e.value)
