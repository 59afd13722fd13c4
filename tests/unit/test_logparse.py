"""logparse on the exact texts of the troubleshooting article and istiod (istio/istio ``pilot/pkg/bootstrap/istio_ca.go``) and the CSI provider,
in both Key Vault error formats (legacy autorest and provider v1.5+ azcore)."""

import json

import pytest

from azext_meshca.rules import logparse

# --- the article, verbatim (provider log for Issue 1, deployment event for Issue 3) ---
ARTICLE_PROVIDER_403 = (
    '"failed to process mount request" err="failed to get objectType:secret, objectName:<secret-object-name>, '
    'objectVersion:: keyvault.BaseClient#GetSecret: Failure responding to request: StatusCode=403 -- Original '
    'Error: autorest/azure: Service returned an error. Status=403 Code=\\"Forbidden\\" Message=\\"The user, group '
    "or application 'appid=<appid>;oid=<oid>;iss=<iss>' does not have secrets get permission on key vault "
    "'MyAzureKeyVault;location=eastus'. For help resolving this issue, please see "
    'https://go.microsoft.com/fwlink/?linkid=2125287\\" InnerError={\\"code\\":\\"AccessDenied\\"}"')
ARTICLE_EVENT_404 = (
    'MountVolume.SetUp failed for volume "cacerts" : rpc error: code = Unknown desc = failed to mount secrets '
    'store objects for pod aks-istio-system/istiod-asm-1-21-6fcfd88478-hqdjj, err: rpc error: code = Unknown '
    'desc = failed to mount objects, error: failed to get objectType:secret, objectName:test-cert-chain, '
    'objectVersion:: keyvault.BaseClient#GetSecret: Failure responding to request: StatusCode=404 -- Original '
    'Error: autorest/azure: Service returned an error. Status=404 Code="SecretNotFound" Message="A secret with '
    '(name/id) test-cert-chain was not found in this key vault. If you recently deleted this secret you may be '
    'able to recover it using the correct recovery command. For help resolving this issue, please see '
    'https://go.microsoft.com/fwlink/?linkid=2125182"')
ARTICLE_EVENT_TIMEOUT = (
    "Unable to attach or mount volumes: unmounted volumes=[cacerts], unattached volumes=[], failed to process "
    "volumes=[]: timed out waiting for the condition")
DRIVER_ABSENT = (
    'MountVolume.SetUp failed for volume "cacerts" : kubernetes.io/csi: mounter.SetUpAt failed to get CSI '
    'client: driver name secrets-store.csi.k8s.io not found in the list of registered CSI drivers')

EVENT_PREFIX = ('MountVolume.SetUp failed for volume "cacerts" : rpc error: code = Unknown desc = failed to mount '
                'secrets store objects for pod aks-istio-system/istiod-asm-1-24-abc-x7k2p, err: rpc error: '
                'code = Unknown desc = failed to mount objects, error: ')
LEGACY = ('failed to get objectType:secret, objectName:{name}, objectVersion:: keyvault.BaseClient#GetSecret: '
          'Failure responding to request: StatusCode={status} -- Original Error: autorest/azure: Service returned '
          'an error. Status={status} Code="{code}" Message="{message}"{inner}')
MESSAGES = {
    "AccessDenied": ("The user, group or application 'appid=a;oid=o;iss=i' does not have secrets get permission "
                     "on key vault 'kv;location=eastus'."),
    "ForbiddenByRbac": ("Caller is not authorized to perform action on resource.\r\nCaller: appid=a\r\n"
                        "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'"),
    "ForbiddenByFirewall": "Client address is not authorized and caller is not a trusted service.",
    "ForbiddenByConnection": ("Public network access is disabled and request is not from a trusted service nor "
                              "via an approved private link."),
    "SecretNotFound": "A secret with (name/id) ca-key was not found in this key vault.",
    "SecretDisabled": "Operation get is not allowed on a disabled secret.",
}
STATUS = {"SecretNotFound": 404}
EXPECTED_CAUSE = {
    "AccessDenied": logparse.ACCESS_POLICY, "ForbiddenByRbac": logparse.RBAC,
    "ForbiddenByFirewall": logparse.FIREWALL, "ForbiddenByConnection": logparse.CONNECTION,
    "SecretNotFound": logparse.SECRET_NOT_FOUND, "SecretDisabled": logparse.SECRET_DISABLED,
}


def legacy_error(kv_code, name="ca-key"):
    status = STATUS.get(kv_code, 403)
    code = kv_code if status == 404 else "Forbidden"
    inner = '' if status == 404 else ' InnerError={"code":"%s"}' % kv_code
    return LEGACY.format(name=name, status=status, code=code, message=MESSAGES[kv_code], inner=inner)


def azcore_error(kv_code, name="ca-key"):
    """The provider v1.5+ text: GET line, dashed separators, RESPONSE/ERROR CODE, JSON body."""
    status = STATUS.get(kv_code, 403)
    code = kv_code if status == 404 else "Forbidden"
    error = {"code": code, "message": MESSAGES[kv_code]}
    if status != 404:
        error["innererror"] = {"code": kv_code}
    dashes = "-" * 80
    return "\n".join([
        "failed to get objectType:secret, objectName:%s, objectVersion:: GET "
        "https://kv.vault.azure.net/secrets/%s/" % (name, name),
        dashes, "RESPONSE %d: %d %s" % (status, status, "Not Found" if status == 404 else "Forbidden"),
        "ERROR CODE: %s" % code, dashes, json.dumps({"error": error}, indent=2), dashes, ""])


def provider_line(text):
    """How the provider logs a mount failure: klog header, err value JSON-quoted."""
    return 'E1129 14:58:01.123456       1 server.go:234] "failed to process mount request" err=%s' % (
        json.dumps(text))


@pytest.mark.parametrize("kv_code", sorted(EXPECTED_CAUSE))
@pytest.mark.parametrize("render", [legacy_error, azcore_error], ids=["legacy", "azcore"])
def test_event_both_formats(kv_code, render):
    result = logparse.classify_mount_error(EVENT_PREFIX + render(kv_code))
    assert result["cause"] == EXPECTED_CAUSE[kv_code]
    assert result["secretName"] == "ca-key"
    assert result["status"] == STATUS.get(kv_code, 403)
    assert len(result["evidence"]) <= logparse.EVIDENCE_LIMIT
    assert "\n" not in result["evidence"]


@pytest.mark.parametrize("kv_code", sorted(EXPECTED_CAUSE))
@pytest.mark.parametrize("render", [legacy_error, azcore_error], ids=["legacy", "azcore"])
def test_provider_log_both_formats(kv_code, render):
    lines = ['I1129 14:00:00.000000       1 main.go:96] "Starting Azure Key Vault Provider" version="v1.5.6"',
             provider_line(render(kv_code))]
    results = logparse.classify_provider_log(lines)
    assert [item["cause"] for item in results] == [EXPECTED_CAUSE[kv_code]]
    assert results[0]["secretName"] == "ca-key"


def test_azcore_multiline_provider_entry_is_grouped():
    """A provider that writes the azcore error over several raw lines is one entry."""
    text = 'E1129 14:58:01.123456       1 server.go:234] "failed to process mount request" err=' + azcore_error(
        "ForbiddenByRbac", name="root-cert")
    results = logparse.classify_provider_log(text.split("\n"))
    assert len(results) == 1
    assert results[0]["cause"] == logparse.RBAC
    assert results[0]["secretName"] == "root-cert"
    assert "ForbiddenByRbac" in results[0]["evidence"]


def test_timestamped_lines_are_grouped():
    """kubectl logs --timestamps prefixes every line, continuation lines too."""
    stamped = ["2026-11-29T15:00:00.1Z " + line for line in
               ('E1129 14:58:01.1       1 server.go:234] "failed to process mount request" err='
                + azcore_error("AccessDenied")).split("\n")]
    results = logparse.classify_provider_log(stamped)
    assert [item["cause"] for item in results] == [logparse.ACCESS_POLICY]


def test_article_provider_line():
    result = logparse.classify_provider_log([ARTICLE_PROVIDER_403])[0]
    assert result["cause"] == logparse.ACCESS_POLICY
    assert result["errorCode"] == "AccessDenied"
    assert result["secretName"] == "<secret-object-name>"


def test_article_event_404_names_the_object():
    result = logparse.classify_mount_error(ARTICLE_EVENT_404)
    assert result["cause"] == logparse.SECRET_NOT_FOUND
    assert result["secretName"] == "test-cert-chain"
    assert result["status"] == 404
    assert "SecretNotFound" in result["evidence"]


@pytest.mark.parametrize("text, cause", [
    (ARTICLE_EVENT_TIMEOUT, logparse.TIMEOUT),
    (DRIVER_ABSENT, logparse.DRIVER),
    (EVENT_PREFIX + "failed to get objectType:secret, objectName:ca-cert, objectVersion:: "
     "keyvault.BaseClient#GetSecret: Failure sending request: StatusCode=0 -- Original Error: "
     "context deadline exceeded", logparse.NETWORK),
    # kubelet's own deadline on the driver call: the mount was slow, not the network down.
    ('MountVolume.SetUp failed for volume "cacerts" : rpc error: code = DeadlineExceeded desc = '
     'context deadline exceeded', logparse.TIMEOUT),
    (EVENT_PREFIX + 'failed to get objectType:secret, objectName:ca-cert, objectVersion:: GET '
     'https://kv.vault.azure.net/secrets/ca-cert/: context deadline exceeded', logparse.NETWORK),
    (EVENT_PREFIX + 'failed to get objectType:secret, objectName:ca-cert, objectVersion:: Get '
     '"https://kv.vault.azure.net/secrets/ca-cert/?api-version=7.4": dial tcp: lookup kv.vault.azure.net: '
     'no such host', logparse.NETWORK),
    (EVENT_PREFIX + "failed to get keyvault client: failed to get authorizer for keyvault client: "
     "Identity not found", logparse.IDENTITY),
    (EVENT_PREFIX + "something nobody has seen before", logparse.UNKNOWN),
])
def test_other_causes(text, cause):
    assert logparse.classify_mount_error(text)["cause"] == cause


@pytest.mark.parametrize("text", [
    'Successfully assigned aks-istio-system/istiod-asm-1-21-6fcfd88478-hqdjj to aks-userpool-24672518-vmss000000',
    'I1129 14:00:00.000100       1 main.go:138] "Listening for connections" address="/provider/azure.sock"',
    "", None,
])
def test_not_a_mount_failure(text):
    assert logparse.classify_mount_error(text) is None


def test_evidence_keeps_the_cause_in_view():
    long_text = EVENT_PREFIX + "x" * 600 + ' InnerError={"code":"AccessDenied"}'
    result = logparse.classify_mount_error(long_text)
    assert len(result["evidence"]) <= logparse.EVIDENCE_LIMIT
    assert "AccessDenied" in result["evidence"]


# --- istiod ---

@pytest.mark.parametrize("line, kind", [
    ("2023-11-21T00:20:25.808412Z\tinfo\tUse plugged-in cert at etc/cacerts/ca-key.pem", logparse.PLUGIN),
    ("2023-11-20T23:27:36.649032Z\tinfo\tNo plugged-in cert at etc/cacerts/ca-key.pem; self-signed cert is used",
     logparse.SELF_SIGNED),
    ("info\tDNS certs use plugged-in cert at etc/cacerts/ca-key.pem", logparse.PLUGIN),
    ("info\tUse istio-generated cacerts at etc/cacerts/ca-key.pem or istio-ca-secret", logparse.SELF_SIGNED),
    ("info\tUse root cert from etc/cacerts/root-cert.pem", logparse.PLUGIN),
    ("info\tUse roots from istio-ca-secret", logparse.SELF_SIGNED),
    ("error\tfailed to create discovery service: failed to create CA: failed to create an istiod CA: failed to "
     "create CA KeyCertBundle (x509: certificate signed by unknown authority)", logparse.REJECTED),
    ("error\tfailed to create an istiod CA: incomplete signing CA bundle detected", logparse.REJECTED),
    ("error\tFailed to update new Plug-in CA certs: the cert does not match the key", logparse.UPDATE_FAILED),
    ("warn\tMulti root is disabled, updating new ROOT-CA not supported", logparse.ROOT_REJECTED),
    ("info\tIstiod has detected the newly added intermediate CA and updated its key and certs accordingly",
     logparse.INTERMEDIATE_UPDATED),
    ("info\tUpdate trust anchor with new root cert", None),
    ("warn\tUpdating new ROOT-CA not supported", logparse.ROOT_REJECTED),
    ("info\tUpdating new ROOT-CA", logparse.ROOT_UPDATED),
    ("info\tUsing istiod file format for signing ca files", None),
    ("info\tIstiod certificates are reloaded", None),
])
def test_istiod_lines(line, kind):
    assert logparse.classify_istiod_line(line) == kind


def test_istiod_mode_is_the_last_one_logged():
    lines = ["No plugged-in cert at etc/cacerts/ca-key.pem; self-signed cert is used",
             "Istiod certificates are reloaded",
             "Use plugged-in cert at etc/cacerts/ca-key.pem"]
    assert logparse.istiod_ca_mode(lines)[0] == logparse.PLUGIN
    assert logparse.istiod_ca_mode(lines[:2]) == (logparse.SELF_SIGNED, lines[0])
    assert logparse.istiod_ca_mode(["Istiod certificates are reloaded"]) == (None, None)


# --- texts read by their parts (issue 21): who failed and at which step decide, not the words ---

@pytest.mark.parametrize("text, party, step, cause", [
    # Key Vault answered: its status and code decide, whatever the wrappers say
    (EVENT_PREFIX + legacy_error("ForbiddenByRbac"), logparse.KEY_VAULT, logparse.STEP_AUTHORISATION, logparse.RBAC),
    (EVENT_PREFIX + azcore_error("SecretNotFound"), logparse.KEY_VAULT, logparse.STEP_NOT_FOUND,
     logparse.SECRET_NOT_FOUND),
    # Key Vault answered 403 without an inner code: the message decides
    (EVENT_PREFIX + 'keyvault.BaseClient#GetSecret: Failure responding to request: StatusCode=403 -- Original Error: '
     'autorest/azure: Service returned an error. Status=403 Code="Forbidden" Message="Public network access is '
     'disabled and request is not from a trusted service nor via an approved private link."',
     logparse.KEY_VAULT, logparse.STEP_NETWORK, logparse.CONNECTION),
    # a token endpoint answered (adal's refresh), though the text names the vault's URL
    (EVENT_PREFIX + "azure.BearerAuthorizer#WithAuthorization: Failed to refresh the Token for request to "
     "https://kv.vault.azure.net/secrets/ca-key/: StatusCode=401 -- Original Error: adal: Refresh request failed. "
     "Status Code = '401'. Response body: {\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: "
     "Invalid client secret provided.\"} Endpoint https://login.microsoftonline.com/t/oauth2/token",
     logparse.TOKEN_ENDPOINT, logparse.STEP_TOKEN, logparse.TOKEN),
    # nobody answered: the vault's connection, or kubelet's and the driver's own deadlines
    (EVENT_PREFIX + 'Get "https://kv.vault.azure.net/secrets/ca-key/": dial tcp 10.1.2.3:443: connect: connection '
     'refused', logparse.KEY_VAULT, logparse.STEP_NETWORK, logparse.NETWORK),
    ("Unable to attach or mount volumes: unmounted volumes=[cacerts], unattached volumes=[], failed to process "
     "volumes=[]: context deadline exceeded", logparse.KUBELET, logparse.STEP_TIMEOUT, logparse.TIMEOUT),
    # failures before any service is asked
    (DRIVER_ABSENT, logparse.KUBELET, logparse.STEP_NOT_FOUND, logparse.DRIVER),
    ('MountVolume.SetUp failed for volume "cacerts" : rpc error: code = Unknown desc = failed to get '
     'secretproviderclass aks-istio-system/istio-spc-asm-1-24, error: secretproviderclasses.secrets-store.csi.x-k8s.io '
     '"istio-spc-asm-1-24" not found', logparse.DRIVER_PARTY, logparse.STEP_NOT_FOUND, logparse.SPC_NOT_FOUND),
    (EVENT_PREFIX + "failed to create auth config, error: failed to get credentials, nodePublishSecretRef secret is "
     "not set", logparse.PROVIDER, logparse.STEP_CONFIGURATION, logparse.NO_IDENTITY),
])
def test_text_is_read_into_parts(text, party, step, cause):
    parts = logparse.parse_mount_text(text)
    assert (parts["party"], parts["step"], parts["cause"]) == (party, step, cause), parts


def test_parts_name_the_object_pod_and_vault():
    parts = logparse.parse_mount_text(EVENT_PREFIX + azcore_error("AccessDenied"))
    assert (parts["secretName"], parts["vault"], parts["status"], parts["code"]) == ("ca-key", "kv", 403,
                                                                                     "AccessDenied")
    assert parts["pod"] == "aks-istio-system/istiod-asm-1-24-abc-x7k2p"


def test_literal_words_stay_evidence_only():
    """A wrapper's words never decide: a SecretNotFound answer quoted after an IMDS URL is still Key Vault's."""
    text = (EVENT_PREFIX + "failed to get objectType:secret, objectName:ca-key, objectVersion:: " + azcore_error(
        "SecretNotFound").replace("A secret with", "(token from http://169.254.169.254 was fine) A secret with"))
    assert logparse.classify_mount_error(text)["cause"] == logparse.SECRET_NOT_FOUND
