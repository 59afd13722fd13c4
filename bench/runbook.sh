#!/usr/bin/env bash
# The troubleshooting article's manual sequence (plugin-ca-troubleshooting.txt), as an
# operator would type it, covering what diagnose checks. Used by bench/diagnose_speed.py
# as the baseline; expects RESOURCE_GROUP, CLUSTER, REVISION and the sandbox environment.
set -u
ns=aks-istio-system
# Issue 1: the add-on identity and its vault access.
OBJECT_ID=$(az aks show --resource-group "$RESOURCE_GROUP" --name "$CLUSTER" \
  --query 'addonProfiles.azureKeyvaultSecretsProvider.identity.objectId' -o tsv)
KEY_VAULT_ID=$(az aks show --resource-group "$RESOURCE_GROUP" --name "$CLUSTER" \
  --query 'serviceMeshProfile.istio.certificateAuthority.plugin.keyVaultId' -o tsv)
az keyvault show --ids "$KEY_VAULT_ID" --query "properties.accessPolicies[?objectId=='$OBJECT_ID']" -o json
az role assignment list --assignee-object-id "$OBJECT_ID" --scope "$KEY_VAULT_ID" --include-inherited -o json
# Issue 2: rotation.
az aks show --resource-group "$RESOURCE_GROUP" --name "$CLUSTER" \
  --query 'addonProfiles.azureKeyvaultSecretsProvider.config.enableSecretRotation' -o tsv
az aks show --resource-group "$RESOURCE_GROUP" --name "$CLUSTER" \
  --query 'addonProfiles.azureKeyvaultSecretsProvider.config.rotationPollInterval' -o tsv
# Issue 3: the four objects, then openssl on them.
VAULT_URI=$(az keyvault show --ids "$KEY_VAULT_ID" --query properties.vaultUri -o tsv)
work=$(mktemp -d)
for field in rootCertObjectName certObjectName keyObjectName certChainObjectName; do
  name=$(az aks show --resource-group "$RESOURCE_GROUP" --name "$CLUSTER" \
    --query "serviceMeshProfile.istio.certificateAuthority.plugin.$field" -o tsv)
  az keyvault secret show --id "${VAULT_URI%/}/secrets/$name" --query value -o tsv > "$work/$field.pem" || true
done
openssl verify -CAfile "$work/rootCertObjectName.pem" -untrusted "$work/certChainObjectName.pem" \
  "$work/certObjectName.pem" || true
rm -rf "$work"
# The in-cluster side.
kubectl get pods --namespace $ns
kubectl get pods --selector app=secrets-store-provider-azure --namespace kube-system --output name \
  | xargs -I {} kubectl logs --namespace kube-system {}
kubectl describe deploy/istiod-"$REVISION" --namespace $ns
kubectl get secretproviderclass --namespace $ns
kubectl describe secret cacerts --namespace $ns || true
kubectl describe configmap istio-ca-root-cert --namespace $ns
kubectl get configmap istio-ca-root-cert --all-namespaces -o name
kubectl get cronjob --namespace $ns
kubectl logs --namespace $ns $(kubectl get pods --namespace $ns | grep 'istio-cert-validator-cronjob-' \
  | sort -k8 | tail -n 1 | awk '{print $1}') 2>/dev/null || true
kubectl logs deploy/istiod-"$REVISION" --container discovery --namespace $ns | grep -v validationController \
  | grep -E 'plugged-in|self-signed|x509 cert' || true
exit 0
