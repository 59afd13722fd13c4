"""sources/hostpin.py: ARM's token to ARM's host only, a Key Vault token to the vault's
own address only (issue 22). The real-az side is tests/e2e/test_security.py."""

import types

import pytest

from azext_meshca.sources import hostpin
from azext_meshca.sources.errors import describe_error

ARM = "https://management.azure.com/"
VAULT_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/MyVault"


def _cli_ctx(suffix=".vault.azure.net"):
    cloud = types.SimpleNamespace(endpoints=types.SimpleNamespace(resource_manager=ARM),
                                  suffixes=types.SimpleNamespace(keyvault_dns=suffix))
    return types.SimpleNamespace(cloud=cloud)


@pytest.mark.parametrize("path", [
    "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/g",
    "https://management.azure.com/subscriptions/s/roleAssignments?$skipToken=x",
    "HTTPS://Management.Azure.com/x",
])
def test_arm_paths_and_links_on_arm_are_followed(path):
    assert hostpin.arm_path(_cli_ctx(), path) == path


@pytest.mark.parametrize("path", [
    "https://attacker.example/subscriptions/s/roleAssignments",
    "http://management.azure.com/x",                    # not TLS
    "//attacker.example/x",                             # scheme-relative
    "https://management.azure.com.attacker.example/x",
    "https://user@attacker.example/x",
    "subscriptions/s",                                  # relative, not a path on ARM
    "",
])
def test_other_hosts_are_refused_in_one_line(path):
    with pytest.raises(hostpin.ForeignHostError) as raised:
        hostpin.arm_path(_cli_ctx(), path)
    error = describe_error(raised.value)
    assert error["code"] == hostpin.ARM_LINK_CODE and "not on ARM" in error["reason"]


def test_a_vault_is_read_at_its_own_address_only():
    vault = {"id": VAULT_ID, "name": "MyVault", "vaultUri": "https://myvault.vault.azure.net/"}
    assert hostpin.vault_address(_cli_ctx(), vault) == "https://myvault.vault.azure.net/"
    assert hostpin.vault_address(_cli_ctx(), dict(vault, vaultUri="https://MyVault.vault.azure.net")) == \
        "https://myvault.vault.azure.net/"


@pytest.mark.parametrize("uri", [
    "https://attacker.example/", "https://othervault.vault.azure.net/", "http://myvault.vault.azure.net/",
    "https://myvault.vault.azure.net.attacker.example/", "https://myvault.vault.azure.net/extra",
    "https://myvault.vault.azure.net:8443/", None, "\x1b[2J",
])
def test_a_vault_uri_elsewhere_gets_no_client(uri):
    vault = {"id": VAULT_ID, "name": "MyVault", "vaultUri": uri}
    with pytest.raises(hostpin.ForeignHostError) as raised:
        hostpin.vault_address(_cli_ctx(), vault)
    error = describe_error(raised.value)
    assert error["code"] == hostpin.VAULT_URI_CODE and "\x1b" not in error["reason"]


def test_a_cloud_without_a_key_vault_suffix_sends_no_token():
    vault = {"id": VAULT_ID, "name": "MyVault", "vaultUri": "https://myvault.vault.azure.net/"}
    with pytest.raises(hostpin.ForeignHostError, match="no Key Vault DNS suffix"):
        hostpin.vault_address(_cli_ctx(suffix=None), vault)


GRAPH = "https://graph.microsoft.com/"


def _graph_request(url):
    from azure.core.pipeline import PipelineContext, PipelineRequest
    from azure.core.rest import HttpRequest
    return PipelineRequest(HttpRequest("POST", url), PipelineContext(None))


def _graph_ctx():
    cloud = types.SimpleNamespace(endpoints=types.SimpleNamespace(resource_manager=ARM,
                                                                  microsoft_graph_resource_id=GRAPH))
    return types.SimpleNamespace(cloud=cloud)


def test_the_graph_token_goes_to_graph_only():
    """rotate's group lookup (sources/rotation.py member_groups): the Graph pipeline refuses any
    other host, before its authentication policy adds the token."""
    policy = hostpin.graph_only_policy(_graph_ctx())
    policy.on_request(_graph_request(GRAPH + "v1.0/directoryObjects/x/getMemberObjects"))
    for url in ("https://graph.microsoft.com.attacker.example/v1.0/x", "http://graph.microsoft.com/v1.0/x",
                ARM + "v1.0/x", "https://user@attacker.example/v1.0/x"):
        with pytest.raises(hostpin.ForeignHostError) as raised:
            policy.on_request(_graph_request(url))
        assert "not on Microsoft Graph" in describe_error(raised.value)["reason"]


@pytest.mark.parametrize("oid", ["../../users/x", "11111111-1111-1111-1111-111111111111/../x", "", None,
                                 "11111111-1111-1111-1111-11111111111?x",
                                 "00000000-0000-0000-0000-000000000000"])
def test_an_object_id_that_is_not_a_guid_is_never_put_into_a_graph_url(oid):
    from azext_meshca.sources.rotation import member_groups
    groups, why = member_groups(None, oid)  # no cli_ctx: nothing may be sent
    assert groups is None and "not a GUID" in why, why
