"""One deadline for a whole run (diagnose, scan, rotate, validate-secrets, show-cert), shared by every collector.

Why one object: each service client has its own timeouts and retry rules (azure-core's
RetryPolicy for ARM and Key Vault, urllib3 under the kubernetes client, MSAL for
tokens), and their sum is unbounded: a Retry-After of 60 s, four retries of a 30 s read
timeout. The deadline caps all of them together, so ``--timeout`` is what the run
costs at most, and what it cut is recorded as a collection error (a partial result,
never a hang).

Collectors find it on the cli_ctx they already receive (``deadline_of(cli_ctx)``), so
their bodies need not change: the client factories and the kube ApiClient apply it.
Transient failures (429 with Retry-After, 5xx, a reset connection, a read timeout) are
retried while the wait still fits; lasting ones (TLS failure, a name that does not
resolve) are not.
"""

import contextlib
import functools
import threading
import time

DEFAULT_TIMEOUT = 120
# Per-attempt caps: a single connect or read never takes longer than these.
CONNECT_SECONDS = 10
READ_SECONDS = 30
# Each service gets this many attempts at one request (2 failures in a row still answer).
ATTEMPTS = 4
RETRY_STATUSES = (429, 500, 502, 503, 504)
# What an attempt needs at least to be worth starting.
MIN_ATTEMPT_SECONDS = 0.5
_KEY = "meshca_deadline"


class DeadlineExceeded(Exception):
    """The run's deadline cut a read; the message names the service and what was cut."""


class Deadline:
    """``seconds`` from now, on the monotonic clock."""

    def __init__(self, seconds=DEFAULT_TIMEOUT, clock=time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self):
        return max(0.0, self._end - self._clock())

    def fits(self, wait):
        """True when waiting ``wait`` seconds still leaves time for one more attempt."""
        return wait + MIN_ATTEMPT_SECONDS <= self.remaining()

    def cap(self, seconds):
        """``seconds``, or what is left of the deadline if that is less."""
        return min(seconds, self.remaining())

    def check(self, service):
        """Raise DeadlineExceeded when too little is left to start a request to ``service``."""
        if self.remaining() < MIN_ATTEMPT_SECONDS:
            raise DeadlineExceeded(self.cut(service))

    def limit(self):
        """The deadline as the user set it: "--timeout of 120 s" (one spelling for every message)."""
        return f"--timeout of {_seconds(self.seconds)} s"

    def cut(self, service, why=None):
        text = f"{service} did not answer within the run's {self.limit()}"
        return text + (f" ({why})" if why else "")


def _seconds(value):
    return int(value) if float(value).is_integer() else value


def attach(cli_ctx, deadline):
    """Make ``deadline`` the one every collector on ``cli_ctx`` honours."""
    cli_ctx.data[_KEY] = deadline
    return deadline


def detach(cli_ctx):
    """End the run's deadline: one CLI object may run many commands (az interactive)."""
    cli_ctx.data.pop(_KEY, None)


@contextlib.contextmanager
def run_within(cli_ctx, seconds=None):
    """The block's reads run within one deadline of ``seconds`` (default DEFAULT_TIMEOUT),
    attached for the block and ended after it (detach): every command that reads Azure or
    the cluster enters its reads this way (diagnose, scan, rotate, validate-secrets and
    show-cert on a live source), so no read of theirs is bounded only per attempt."""
    deadline = attach(cli_ctx, Deadline(seconds or DEFAULT_TIMEOUT))
    try:
        yield deadline
    finally:
        detach(cli_ctx)


def deadline_of(cli_ctx):
    """The run's deadline; for callers that attached none (fix-access, whose --wait-for-istiod
    has a --timeout of its own), a default one per lookup, never stored (a later command must
    not inherit a spent one)."""
    data = getattr(cli_ctx, "data", None)
    return (data or {}).get(_KEY) or Deadline()


class _RunDeadline:  # pylint: disable=too-few-public-methods  # a proxy: its methods are the deadline's
    """The deadline of whichever run is under way on ``cli_ctx``, looked up at each use.

    Why: clients and credentials are shared on the cli_ctx for a whole az invocation
    (_client_factory._shared), and one CLI object may run many commands (az
    interactive); a deadline captured when a client was built would be a spent one later.
    """

    def __init__(self, cli_ctx):
        self._cli_ctx = cli_ctx

    def __getattr__(self, name):
        return getattr(deadline_of(self._cli_ctx), name)


def run_deadline(cli_ctx):
    """A deadline that is always the current run's (``deadline_of`` at each call)."""
    return _RunDeadline(cli_ctx)


def retry_after_seconds(value):
    """Retry-After in seconds (the delta-seconds form; HTTP dates count as unknown)."""
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return None


def backoff(attempt):
    """0.5, 1, 2 ... seconds before attempt ``attempt + 1``."""
    return 0.5 * (2 ** (attempt - 1))


# --------------------------------------------------------------------------- azure-core (ARM, Key Vault)

def azure_retry_policy(deadline, service):
    """An azure-core RetryPolicy that honours Retry-After and backs off only while the
    deadline allows, caps each attempt's connect/read timeout by what is left, and says
    "deadline" rather than "Response timeout" when the deadline is what ended it."""
    return _deadline_retry_policy_class()(deadline, service, retry_total=ATTEMPTS - 1, retry_backoff_factor=0.5,
                                          retry_backoff_max=8)


@functools.lru_cache(maxsize=None)
def _deadline_retry_policy_class():
    """azure_retry_policy's class, defined once, at first use: azure-core is imported only when
    a client is built, and defining the class for every policy was a visible share of building
    scan --read-secrets' thousand vault readers (bench/scan_speed.py)."""
    from azure.core.pipeline.policies import RetryPolicy

    class DeadlineRetryPolicy(RetryPolicy):
        def __init__(self, deadline, service, **kwargs):
            super().__init__(**kwargs)
            self._run_deadline = deadline
            self._service = service

        def configure_retries(self, options):
            settings = super().configure_retries(options)
            settings["timeout"] = min(settings["timeout"], self._run_deadline.remaining())
            return settings

        def _configure_timeout(self, request, absolute_timeout, is_response_error):
            deadline = self._run_deadline
            deadline.check(self._service)
            options = request.context.options
            options["connection_timeout"] = deadline.cap(options.get("connection_timeout") or CONNECT_SECONDS)
            options["read_timeout"] = deadline.cap(options.get("read_timeout") or READ_SECONDS)
            super()._configure_timeout(request, max(absolute_timeout, MIN_ATTEMPT_SECONDS), is_response_error)

        def increment(self, settings, response=None, error=None):
            active = super().increment(settings, response=response, error=error)
            if not active:
                return False
            http_response = getattr(response, "http_response", None)
            retry_after = self.get_retry_after(response) if http_response is not None else None
            wait = retry_after if retry_after is not None else self.get_backoff_time(settings)
            if self._run_deadline.fits(wait):
                return True
            if retry_after is not None and error is None:
                return False  # the 429/503 itself is the answer: it says what refused us
            raise DeadlineExceeded(self._run_deadline.cut(self._service, _reason(error))) from error

    return DeadlineRetryPolicy


def _reason(error):
    if error is None:
        return None
    seen = error
    while getattr(seen, "inner_exception", None) is not None or getattr(seen, "__cause__", None) is not None:
        seen = getattr(seen, "inner_exception", None) or seen.__cause__
    return " ".join(str(seen).split())[:160] or type(seen).__name__


# --------------------------------------------------------------------------- kubernetes

def _transient_kube_error(error):
    """Connection resets, refused connections and read timeouts are worth another try;
    a TLS failure or a name that does not resolve is not."""
    reason = getattr(error, "reason", None) or error
    names = {type(reason).__name__, type(error).__name__}
    if names & {"SSLError", "NameResolutionError", "LocationParseError"}:
        return False
    return bool(names & {"ProtocolError", "ReadTimeoutError", "ConnectTimeoutError", "NewConnectionError",
                         "MaxRetryError", "ConnectionResetError", "RemoteDisconnected", "IncompleteRead"})


def bounded_kube_get(deadline, send, *, timeout=None, service="the Kubernetes API"):
    """One Kubernetes GET under the run's deadline, whichever client makes it.

    ``send((connect, read))`` makes one attempt with those timeouts (capped by what is left
    of ``deadline``) and returns its response (``status``, headers, ``read()``). GETs that
    meet a transient failure (429/5xx, honouring Retry-After; a reset; a timeout) are
    retried while the deadline fits; the last 429/5xx is returned, as it says what refused
    us. meshca's own client (sources/kubehttp.py) and the kubernetes package's
    (kube_api_client) both go through here, so there is one retry rule.
    """
    attempt = 0
    while True:
        attempt += 1
        deadline.check(service)
        try:
            response = send(_capped(timeout, deadline))
        except Exception as error:  # pylint: disable=broad-except
            if attempt >= ATTEMPTS or not _transient_kube_error(error):
                raise
            if not deadline.fits(backoff(attempt)):
                raise DeadlineExceeded(deadline.cut(service, _reason(error))) from error
            time.sleep(backoff(attempt))
            continue
        if response.status not in RETRY_STATUSES or attempt >= ATTEMPTS:
            return response
        # urllib3's response has .headers; the kubernetes package's RESTResponse getheaders().
        headers = getattr(response, "headers", None) or response.getheaders()
        retry_after = retry_after_seconds(headers.get("Retry-After"))
        wait = retry_after if retry_after is not None else backoff(attempt)
        if not deadline.fits(wait):
            return response
        response.read()
        time.sleep(wait)


def kube_api_client(configuration, deadline, service="the Kubernetes API"):
    """A kubernetes ApiClient whose every call is bounded by ``deadline``: GETs follow
    bounded_kube_get's retry rule; other methods get one attempt with capped timeouts.
    urllib3's own retries are off, so there is one retry rule."""
    from kubernetes import client

    class DeadlineApiClient(client.ApiClient):
        def call_api(self, method, url, header_params=None, body=None, post_params=None,  # pylint: disable=too-many-arguments
                     _request_timeout=None):
            def attempt(timeout):
                return client.ApiClient.call_api(self, method, url, header_params, body, post_params,
                                                 _request_timeout=timeout)
            if method != "GET":
                deadline.check(service)
                return attempt(_capped(_request_timeout, deadline))
            return bounded_kube_get(deadline, attempt, timeout=_request_timeout, service=service)

    configuration.retries = 0
    return DeadlineApiClient(configuration)


def _capped(request_timeout, deadline):
    connect, read = request_timeout if isinstance(request_timeout, tuple) else (CONNECT_SECONDS, READ_SECONDS)
    return (max(0.1, deadline.cap(connect)), max(0.1, deadline.cap(read)))


# --------------------------------------------------------------------------- tokens

class TokenRequestFailed(Exception):
    """No token could be had: said as a failed token request, never as a failed read."""


class DeadlineCredential:  # pylint: disable=too-few-public-methods  # azure-core's TokenCredential: get_token
    """A TokenCredential that retries a failed token request while the deadline allows.

    Why a fresh inner credential per attempt: MSAL's managed-identity client remembers a
    429/5xx answer for its Retry-After (5 s when none is given) and replays it without
    asking again (msal/managed_identity.py, _ThrottledHttpClient), so retrying the same
    credential object would only repeat the failure. ``make_credential`` builds a new one.
    """

    def __init__(self, make_credential, deadline, audience="ARM"):
        self._make = make_credential
        self._deadline = deadline
        self._audience = audience  # what the tokens are for, to say which request failed
        self._inner = None

    def get_token(self, *scopes, **kwargs):
        attempt = 0
        while True:
            attempt += 1
            if self._deadline.remaining() < MIN_ATTEMPT_SECONDS:
                raise TokenRequestFailed(f"token request for {self._audience} not answered within the run's "
                                         f"--timeout of {_seconds(self._deadline.seconds)} s")
            try:
                return self._bounded(scopes, kwargs)
            except TokenRequestFailed:
                raise
            except Exception as error:  # pylint: disable=broad-except
                self._inner = None
                if attempt >= ATTEMPTS or not self._deadline.fits(backoff(attempt)):
                    raise TokenRequestFailed(
                        f"token request for {self._audience} failed: {_token_reason(error)}") from None
                time.sleep(backoff(attempt))

    def _bounded(self, scopes, kwargs):
        """One token request, given up on when the deadline passes.

        MSAL's managed-identity requests have no timeout of their own, so the request runs
        on a daemon thread that is abandoned (not joined) if it outlives the deadline."""
        outcome = {}

        def request():
            try:
                if self._inner is None:
                    self._inner = self._make()
                outcome["token"] = self._inner.get_token(*scopes, **kwargs)
            except Exception as error:  # pylint: disable=broad-except
                outcome["error"] = error

        worker = threading.Thread(target=request, name="meshca-token", daemon=True)
        worker.start()
        worker.join(self._deadline.remaining())
        if worker.is_alive():
            self._inner = None
            raise TokenRequestFailed(f"token request for {self._audience} not answered within the run's "
                                     f"--timeout of {_seconds(self._deadline.seconds)} s")
        if "error" in outcome:
            raise outcome["error"]
        return outcome["token"]


def _token_reason(error):
    """MSAL's error text, or what kind of failure it was when the endpoint said nothing usable
    (azure-cli prints an OAuth error without description as 'None, None')."""
    text = _reason(error)
    if not text or set(text.replace(",", " ").split()) <= {"None"}:
        return f"the identity endpoint gave no token ({type(error).__name__})"
    return text
