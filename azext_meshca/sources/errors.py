"""Turn any exception from an SDK or the network into a one-line, secret-free reason."""

import json

from azext_meshca.model.snapshot import collection_error

_MAX_REASON = 300


def _one_line(text):
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_REASON else text[:_MAX_REASON - 3] + "..."


def _azure_error_codes(error):
    """(code, inner code) from an azure-core HttpResponseError, if the body had them."""
    odata = getattr(error, "error", None)
    code = getattr(odata, "code", None)
    inner = getattr(odata, "innererror", None) or {}
    inner_code = inner.get("code") if isinstance(inner, dict) else None
    return code, inner_code


def describe_error(error):  # pylint: disable=too-many-return-statements  # one per error family
    """A collection_error dict for ``error``; never includes request or response bodies
    beyond the service's own error message."""
    if isinstance(getattr(error, "collection_error", None), dict):  # already worded (sources/runcommand.py)
        return dict(error.collection_error)
    try:
        from azure.core.exceptions import (HttpResponseError, ServiceRequestError,
                                           ServiceResponseError)
    except ImportError:  # pragma: no cover - azure-core ships with azure-cli
        HttpResponseError = ServiceRequestError = ServiceResponseError = ()  # noqa: N806

    if isinstance(error, HttpResponseError) and getattr(error, "status_code", None):
        code, inner_code = _azure_error_codes(error)
        message = getattr(getattr(error, "error", None), "message", None) or error.reason or ""
        shown_code = inner_code or code
        shown = f" ({shown_code})" if shown_code else ""
        reason = f"{error.status_code} {error.reason or ''}{shown}: {message}"
        return collection_error(_one_line(reason), error.status_code, shown_code)
    if isinstance(error, ServiceResponseError):
        return collection_error(_one_line(f"no usable response: {_root_cause(error)}"),
                                code="NoResponse")
    if isinstance(error, ServiceRequestError):
        return collection_error(_one_line(f"cannot connect: {_root_cause(error)}"),
                                code="CannotConnect")
    from azext_meshca.sources.deadline import DeadlineExceeded, TokenRequestFailed
    if isinstance(error, DeadlineExceeded):
        return collection_error(_one_line(str(error)), code="Deadline")
    if isinstance(error, TokenRequestFailed):
        return collection_error(_one_line(str(error)), code="TokenRequestFailed")
    kube = _describe_kube_error(error)
    if kube:
        return kube
    from azext_meshca.model.inputs import InputError
    from azext_meshca.model.snapshot_schema import ShapeError
    if isinstance(error, (InputError, ShapeError)):
        return collection_error(_one_line(f"unexpected answer: {error}"), code="MalformedResponse")
    if isinstance(error, TimeoutError):
        return collection_error("timed out", code="Timeout")
    return collection_error(_one_line(f"{type(error).__name__}: {error}"))


def _root_cause(error):
    """The innermost message: 'Connection refused' says more than the wrapper."""
    seen = error
    while getattr(seen, "__cause__", None) is not None or getattr(seen, "inner_exception", None) is not None:
        seen = getattr(seen, "inner_exception", None) or seen.__cause__
    return str(seen) or type(seen).__name__


def _describe_kube_error(error):
    """KubeApiError (and the kubernetes package's ApiException) carry a status and a Status
    object; urllib3 errors mean no connection."""
    module = type(error).__module__ or ""
    from azext_meshca.sources.kubehttp import KubeApiError, KubeconfigError
    if isinstance(error, KubeconfigError):
        return collection_error(_one_line(f"unusable kubeconfig: {error}"), code="Kubeconfig")
    if isinstance(error, KubeApiError) or (module.startswith("kubernetes") and hasattr(error, "status")):
        status = error.status
        message = ""
        try:
            message = json.loads(error.body or "{}").get("message", "")
        except (ValueError, AttributeError):
            message = ""
        reason = f"{status} {error.reason or ''}: {message}" if status else str(error.reason)
        return collection_error(_one_line(reason), status or None, f"Kubernetes{status or 'Error'}")
    if module.startswith("urllib3"):
        reason = getattr(error, "reason", None) or error
        return collection_error(_one_line(f"cannot reach the Kubernetes API: {reason}"), code="CannotConnect")
    return None


def raise_for_failed_read(item, what, service="ARM"):
    """Turn a failed read that leaves a command nothing to do into one az error line.

    404 exits 3 (az's not-found status); everything else exits 1: ForbiddenError for
    403, AzureResponseError for other HTTP answers, AzureConnectionError when no answer
    came at all. Used wherever a read is a precondition (the cluster, fix-access's vault).
    """
    from azure.cli.core.azclierror import (AzureConnectionError, AzureResponseError, ForbiddenError,
                                           ResourceNotFoundError)
    error = item["error"] or {}
    status, reason = error.get("status"), error.get("reason")
    if error.get("code") == "TokenRequestFailed":  # the identity endpoint failed, not the read
        raise AzureConnectionError(f"Could not get a token, so {what} was not read: {reason}")
    if status == 404:
        raise ResourceNotFoundError(f"{what} was not found: {reason}")
    if not status:  # no answer at all: say which service could not be reached
        raise AzureConnectionError(f"Could not read {what} from {service}: {reason}")
    error_class = ForbiddenError if status == 403 else AzureResponseError
    raise error_class(f"Could not read {what}: {reason}")
