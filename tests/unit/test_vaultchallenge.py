"""sources/vaultchallenge.py: a challenge elicited before the vault was read is handed
to azure-keyvault-secrets only when it is that vault's, and passes the SDK's own check.

Each test uses its own host name: the SDK's challenge cache is process-wide.
"""

import itertools
import types

import pytest
from azure.keyvault.secrets._shared import http_challenge_cache

from azext_meshca.sources import vaultchallenge

_HOSTS = itertools.count()
TENANT = "00000000-0000-0000-0000-00000000000a"


def _vault_uri():
    return f"https://vault{next(_HOSTS)}-meshca-test.vault.azure.net/"


def _challenge(resource="https://vault.azure.net", authorization=f"https://login.microsoftonline.com/{TENANT}"):
    return f'Bearer authorization="{authorization}", resource="{resource}"'


def _elicited(uri, header):
    return uri.rstrip("/") + "/secrets/root-cert/", header, {"WWW-Authenticate": header}


def test_a_challenge_from_the_vaults_own_host_is_cached_for_the_sdk():
    uri = _vault_uri()
    assert http_challenge_cache.get_challenge_for_url(uri) is None
    assert vaultchallenge.seed(uri, _elicited(uri, _challenge()))
    cached = http_challenge_cache.get_challenge_for_url(uri + "secrets/ca-key/")
    assert cached is not None and cached.tenant_id == TENANT
    assert (cached.get_scope() or cached.get_resource() + "/.default") == "https://vault.azure.net/.default"


def test_host_names_compare_case_blind():
    uri = _vault_uri()
    assert vaultchallenge.seed(uri.replace("https://vault", "https://VAULT"), _elicited(uri, _challenge()))


@pytest.mark.parametrize("why, make", [
    ("ARM names another host", lambda uri: (_vault_uri(), _elicited(uri, _challenge()))),
    ("resource is not the host's parent domain", lambda uri: (uri, _elicited(uri, _challenge("https://evil.example")))),
    ("resource is the host itself", lambda uri: (uri, _elicited(uri, _challenge(uri.rstrip("/"))))),
    ("no resource or scope", lambda uri: (uri, _elicited(uri, 'Bearer authorization="https://login/x"'))),
    ("not a bearer challenge", lambda uri: (uri, _elicited(uri, "Basic realm=x"))),
    ("nothing elicited", lambda uri: (uri, None)),
], ids=["other-host", "foreign-resource", "resource-is-host", "no-resource", "not-bearer", "none"])
def test_anything_else_is_not_cached(why, make):
    """The SDK checks a challenge's resource only when it elicits the challenge itself
    (ChallengeAuthPolicy.on_challenge), never a cached one: so seed checks first."""
    uri = _vault_uri()
    vault_uri, elicited = make(uri)
    assert not vaultchallenge.seed(vault_uri, elicited), why
    assert http_challenge_cache.get_challenge_for_url(vault_uri) is None


def test_the_uri_is_the_name_under_the_clouds_key_vault_suffix():
    cloud = types.SimpleNamespace(suffixes=types.SimpleNamespace(keyvault_dns=".vault.azure.net"))
    assert vaultchallenge.predicted_vault_uri(types.SimpleNamespace(cloud=cloud), "MyVault") == \
        "https://myvault.vault.azure.net/"


def test_a_cloud_without_a_key_vault_suffix_predicts_nothing():
    class _Unset:  # azure-cli's CloudSuffixes raises for a suffix the cloud does not set
        def __getattr__(self, name):
            raise RuntimeError(f"{name} is not set")
    cloud = types.SimpleNamespace(suffixes=_Unset())
    assert vaultchallenge.predicted_vault_uri(types.SimpleNamespace(cloud=cloud), "v") is None
