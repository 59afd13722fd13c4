"""Mount-failure texts worded differently from the corpus's (tests/upstream), two per cause of
issue #21's Texts part: the unit grid (test_mount_texts.py) reads them with logparse and the
rules, the end-to-end grid (tests/e2e/test_mount_texts.py) through the real az.

Each wording is built from the formatting code it names, in a form the corpus does not hold
(another provider release or log format, another driver or kubelet release, Key Vault's other
message). Names match the healthy golden snapshot: vault MyAzureKeyVault, secrets test-*.

A case: ``events`` (FailedMount messages on istiod's pod), ``provider`` (provider log lines),
``expect`` (codes that must be reported) and ``absent`` (codes that must not be).
"""

import json

POD = "aks-istio-system/istiod-asm-1-23-7c9d8f6b5d-q8v4n"
# kubelet (kubernetes pkg/volume/util/operationexecutor/operation_generator.go) around the driver
# (kubernetes-sigs/secrets-store-csi-driver pkg/secrets-store/nodeserver.go).
EVENT_HEAD = ('MountVolume.SetUp failed for volume "cacerts" : rpc error: code = Unknown desc = failed to mount '
              f'secrets store objects for pod {POD}, err: ')
PROVIDER_EVENT = EVENT_HEAD + "rpc error: code = Unknown desc = failed to mount objects, error: "
DASHES = "-" * 80
# Key Vault's answer to an add-on without 'get' (the article's Issue 1 text).
LEGACY_403_ACCESS_DENIED = (
    'E1207 10:00:00.000000       1 server.go:60] "failed to process mount request" err="failed to get objectType:'
    'secret, objectName:test-ca-cert, objectVersion:: keyvault.BaseClient#GetSecret: Failure responding to request: '
    'StatusCode=403 -- Original Error: autorest/azure: Service returned an error. Status=403 Code=\\"Forbidden\\" '
    "Message=\\\"The user, group or application 'appid=a;oid=o;iss=i' does not have secrets get permission on key "
    "vault 'MyAzureKeyVault;location=eastus'.\\\" InnerError={\\\"code\\\":\\\"AccessDenied\\\"}\"")


def json_entry(err):
    """A provider entry in --log-format-json (k8s.io/component-base logs/json: ts, caller, msg, err)."""
    return json.dumps({"ts": 1765101600000.0, "caller": "server/server.go:60", "msg": "failed to process mount request",
                       "err": err})


def azcore_body(method, url, status, reason, error):
    """azcore's ResponseError.Error() (azure-sdk-for-go sdk/azcore/internal/exported/response_error.go)."""
    return "\n".join([f"{method} {url}", DASHES, f"RESPONSE {status}: {status} {reason}",
                      f"ERROR CODE: {error.get('code', 'UNAVAILABLE')}", DASHES,
                      json.dumps({"error": error}, indent=2), DASHES, ""])


CASES = {
    # A token that could not be obtained is the token endpoint's failure, never the vault's network.
    "token": [
        # azidentity DefaultAzureCredential's chained error (sdk/azidentity/chained_token_credential.go:
        # "failed to acquire a token.\nAttempted credentials:\n\t...") in the JSON log format.
        {"provider": [json_entry(
            "failed to get objectType:secret, objectName:test-ca-cert, objectVersion:: DefaultAzureCredential: "
            "failed to acquire a token.\nAttempted credentials:\n\tManagedIdentityCredential: Get "
            "\"http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource="
            "https%3A%2F%2Fvault.azure.net\": context deadline exceeded")],
         "expect": {"MCA816"}, "absent": {"MCA806", "MCA807"}},
        # workload identity, autorest era: MSAL Go's request never answered (provider pkg/auth/auth.go
        # "failed to acquire token: %w"; Go net's DNS error), in a kubelet event.
        {"events": [PROVIDER_EVENT + (
            "failed to get objectType:secret, objectName:test-ca-cert, objectVersion:: keyvault.BaseClient#GetSecret: "
            "Failure preparing request: StatusCode=0 -- Original Error: failed to acquire token: FromAssertion(): "
            "Post \"https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/oauth2/v2.0/token\": "
            "dial tcp: lookup login.microsoftonline.com on 10.0.0.10:53: no such host")],
         "expect": {"MCA830"}, "absent": {"MCA806", "MCA807"}},
    ],
    # kubelet's own timeout next to Key Vault's 403: the 403 is the cause, no network finding.
    "kubelet-timeout-beside-403": [
        # kubelet 1.28+ (pkg/kubelet/volumemanager/volume_manager.go wraps the context's error).
        {"events": ["Unable to attach or mount volumes: unmounted volumes=[cacerts], unattached volumes=[cacerts "
                    "istio-token kube-api-access-9fnqz local-certs], failed to process volumes=[]: context deadline "
                    "exceeded"],
         "provider": [LEGACY_403_ACCESS_DENIED], "expect": {"MCA802"}, "absent": {"MCA806", "MCA807"}},
        # the driver's gRPC call to the provider hit its deadline (grpc status DeadlineExceeded).
        {"events": [EVENT_HEAD + "rpc error: code = DeadlineExceeded desc = context deadline exceeded"],
         "provider": [LEGACY_403_ACCESS_DENIED], "expect": {"MCA802"}, "absent": {"MCA806", "MCA807"}},
    ],
    # Key Vault's 401 for a token of another tenant.
    "tenant": [
        # azcore in JSON format, Key Vault's message without the AKV code.
        {"provider": [json_entry(
            "failed to get objectType:secret, objectName:test-ca-cert, objectVersion:: " + azcore_body(
                "GET", "https://myazurekeyvault.vault.azure.net/secrets/test-ca-cert/", 401, "Unauthorized",
                {"code": "Unauthorized", "message": "Invalid issuer. Expected one of https://sts.windows.net/"
                 "99999999-9999-9999-9999-999999999999/, found https://sts.windows.net/"
                 "00000000-0000-0000-0000-0000000000aa/."}))],
         "expect": {"MCA817"}, "absent": {"MCA806", "MCA807"}},
        # autorest era, in a kubelet event (the corpus has it in the provider's log only).
        {"events": [PROVIDER_EVENT + (
            "failed to get objectType:secret, objectName:test-ca-key, objectVersion:: keyvault.BaseClient#GetSecret: "
            "Failure responding to request: StatusCode=401 -- Original Error: autorest/azure: Service returned an "
            "error. Status=401 Code=\"Unauthorized\" Message=\"AKV10032: Invalid issuer. Expected one of "
            "https://sts.windows.net/99999999-9999-9999-9999-999999999999/, found "
            "https://sts.windows.net/00000000-0000-0000-0000-0000000000aa/.\"")],
         "expect": {"MCA817"}, "absent": {"MCA806", "MCA807"}},
    ],
    # The vault's firewall, in Key Vault's older words (learn.microsoft.com azure/key-vault/general/
    # rest-error-codes: "Client address (00.00.00.00) is not authorized and caller is not a trusted service").
    "firewall": [
        {"events": [PROVIDER_EVENT + (
            "failed to get objectType:secret, objectName:test-root-cert, objectVersion:: "
            "keyvault.BaseClient#GetSecret: Failure responding to request: StatusCode=403 -- Original Error: "
            "autorest/azure: Service returned an error. Status=403 Code=\"Forbidden\" Message=\"Client address "
            "(20.51.1.2) is not authorized and caller is not a trusted service\"")],
         "expect": {"MCA804"}, "absent": {"MCA806", "MCA807"}},
        {"provider": [json_entry(
            "failed to get objectType:secret, objectName:test-root-cert, objectVersion:: " + azcore_body(
                "GET", "https://myazurekeyvault.vault.azure.net/secrets/test-root-cert/", 403, "Forbidden",
                {"code": "Forbidden", "message": "Client address (10.224.0.4) is not authorized and caller is not a "
                 "trusted service.\r\nClient address: 10.224.0.4\r\nCaller: appid=a;oid=o;iss=i\r\n"
                 "Vault: MyAzureKeyVault;location=eastus"}))],
         "expect": {"MCA804"}, "absent": {"MCA806", "MCA807"}},
    ],
    # The SecretProviderClass the volume names does not exist (driver pkg/secrets-store/utils.go
    # getSecretProviderItem "failed to get secretproviderclass %s/%s, error: %w").
    "spc-not-found": [
        # the API's NotFound text with the kind's name, as older client libraries render it
        {"events": ['MountVolume.SetUp failed for volume "cacerts" : rpc error: code = Unknown desc = failed to get '
                    'secretproviderclass aks-istio-system/istio-spc-asm-1-23, error: SecretProviderClass.secrets-store'
                    '.csi.x-k8s.io "istio-spc-asm-1-23" not found'],
         "expect": {"MCA831"}, "absent": {"MCA807"}},
        # a driver that returns a gRPC NotFound status for it
        {"events": ['MountVolume.SetUp failed for volume "cacerts" : rpc error: code = NotFound desc = failed to get '
                    'secretproviderclass aks-istio-system/istio-spc-asm-1-24, error: secretproviderclasses.secrets-'
                    'store.csi.x-k8s.io "istio-spc-asm-1-24" not found'],
         "expect": {"MCA831"}, "absent": {"MCA807"}},
    ],
    # No Azure provider on the node (driver provider_client.go: errProviderNotFound; older drivers dial the socket).
    "provider-not-running": [
        # drivers v1.x up to v1.5 poll for rotation and say so on the running pod (pkg/rotation/reconciler.go:
        # "failed to create provider client, err: %+v" around PluginClientBuilder.Get's error)
        {"events": ['failed to create provider client, err: provider not found: provider "azure"'],
         "reason": "MountRotationFailed", "expect": {"MCA832"}, "absent": {"MCA807"}},
        # grpc-go 1.5x's wording ("Error while dialing: %v") and the AKS socket path, while the provider restarts
        {"events": [EVENT_HEAD + 'rpc error: code = Unavailable desc = connection error: desc = "transport: Error '
                    'while dialing: dial unix /var/run/secrets-store-csi-providers/azure.sock: connect: connection '
                    'refused"'],
         "expect": {"MCA832"}, "absent": {"MCA806", "MCA807"}},
    ],
    # The SecretProviderClass selects no identity (provider pkg/auth/auth.go).
    "no-identity": [
        {"provider": [json_entry("failed to create auth config, error: failed to get credentials, "
                                 "nodePublishSecretRef secret is not set")],
         "expect": {"MCA833"}, "absent": {"MCA807"}},
        {"events": [PROVIDER_EVENT + "failed to get keyvault client: no valid identity access mode specified"],
         "expect": {"MCA833"}, "absent": {"MCA807"}},
    ],
    # Provider entries that name neither the secret nor an istiod pod are still read.
    "unnamed-provider-entry": [
        # autorest, no object frame (older provider releases log the bare error)
        {"provider": ['E1207 10:00:00.000000       1 server.go:54] failed to process mount request, error: '
                      'keyvault.BaseClient#GetSecret: Failure responding to request: StatusCode=403 -- Original Error: '
                      'autorest/azure: Service returned an error. Status=403 Code="Forbidden" Message="Caller is not '
                      'authorized to perform action on resource." InnerError={"code":"ForbiddenByRbac"}'],
         "expect": {"MCA803"}, "absent": {"MCA807"}},
        # Go's DNS failure for our vault, no object named
        {"provider": ['E1207 10:00:00.000000       1 server.go:54] failed to process mount request, error: '
                      'keyvault.BaseClient#GetSecret: Failure sending request: StatusCode=0 -- Original Error: Get '
                      '"https://myazurekeyvault.vault.azure.net/secrets/?api-version=2016-10-01": dial tcp: lookup '
                      'myazurekeyvault.vault.azure.net on 10.0.0.10:53: no such host'],
         "expect": {"MCA806"}, "absent": {"MCA807"}},
    ],
}


def snapshot_with(base, case):
    """``base`` (a golden snapshot, plain dict) with the case's events and provider log."""
    snapshot = json.loads(json.dumps(base))
    kube = snapshot["kube"]
    pod = POD.split("/", 1)[1]
    kube["events"] = {"ok": True, "error": None, "data": [
        {"involvedKind": "Pod", "involvedName": pod, "type": "Warning", "reason": case.get("reason", "FailedMount"),
         "message": message,
         "count": 3, "lastSeen": snapshot["collectedAt"], "node": "aks-userpool-24672518-vmss000000"}
        for message in case.get("events", ())]}
    kube["providerLogs"] = {"ok": True, "error": None, "data": [
        {"pod": "aks-secrets-store-provider-azure-7t8tk", "node": "aks-userpool-24672518-vmss000000",
         "lines": [line for entry in case.get("provider", ()) for line in entry.split("\n")]}]}
    return snapshot


def ids():
    return [f"{cause}-{index + 1}" for cause, cases in CASES.items() for index in range(len(cases))]


def all_cases():
    return [case for cases in CASES.values() for case in cases]
