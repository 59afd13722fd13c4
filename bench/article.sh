#!/usr/bin/env bash
# Exactly the diagnostic commands of the troubleshooting article
# (https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/extensions/istio-add-on-plug-in-ca-certificates),
# in its order, as an operator would type them; plus reading the three certificate
# objects and one `openssl verify`, which issue 3 implies. Nothing the article does not
# name (its one write, `az keyvault set-policy`, is a fix, not a check). Used by
# bench/diagnose_speed.py as the baseline; expects RESOURCE_GROUP, CLUSTER, REVISION,
# VAULT_URI, ROOT_CERT, CA_CERT, CERT_CHAIN and the sandbox environment.
set -u
# "Deployed resources"
kubectl describe secret cacerts --namespace aks-istio-system || true
kubectl get secretproviderclass --namespace aks-istio-system
kubectl describe configmap istio-ca-root-cert --namespace aks-istio-system || true
kubectl get cronjob --namespace aks-istio-system
kubectl logs --namespace aks-istio-system $(kubectl get pods --namespace aks-istio-system | grep 'istio-cert-validator-cronjob-' | sort -k8 | tail -n 1 | awk '{print $1}') || true
# "Determine certificate type in deployment logs"
kubectl logs deploy/istiod-"$REVISION" --container discovery --namespace aks-istio-system | grep -v validationController || true
# Issue 1
kubectl get pods --namespace aks-istio-system
kubectl get pods --selector app=secrets-store-provider-azure --namespace kube-system --output name | xargs -I {} kubectl logs --namespace kube-system {}
OBJECT_ID=$(az aks show --resource-group $RESOURCE_GROUP --name $CLUSTER --query 'addonProfiles.azureKeyvaultSecretsProvider.identity.objectId')
echo "$OBJECT_ID"
# Issue 2
az aks show --resource-group $RESOURCE_GROUP --name $CLUSTER | jq -r '.addonProfiles.azureKeyvaultSecretsProvider.config.enableSecretRotation'
az aks show --resource-group $RESOURCE_GROUP --name $CLUSTER | jq -r '.addonProfiles.azureKeyvaultSecretsProvider.config.rotationPollInterval'
# Issue 3
kubectl describe deploy/istiod-"$REVISION" --namespace aks-istio-system
# The three certificate objects, and one openssl verify of the intermediate against the root.
work=$(mktemp -d)
for name in "$ROOT_CERT" "$CA_CERT" "$CERT_CHAIN"; do
  az keyvault secret show --id "${VAULT_URI%/}/secrets/$name" --query value -o tsv > "$work/$name.pem" || true
done
openssl verify -CAfile "$work/$ROOT_CERT.pem" -untrusted "$work/$CERT_CHAIN.pem" "$work/$CA_CERT.pem" || true
rm -rf "$work"
exit 0
