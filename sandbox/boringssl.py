"""Real mutual-TLS handshakes through the BoringSSL that the grpcio wheel bundles (test-only).

What is real here: the TLS stack, its PEM reader and its ``X509_verify_cert``. gRPC
(grpc/grpc src/core/tsi/ssl_transport_security.cc, commit 003537a) loads the PEM roots
with ``ssl_ctx_load_verification_certs``, which sets ``X509_V_FLAG_PARTIAL_CHAIN |
X509_V_FLAG_TRUSTED_FIRST`` on the store and a depth of 100, and verifies through
``CustomVerificationFunction`` = plain ``X509_verify_cert``. The purpose is set by
BoringSSL itself (google/boringssl ssl/ssl_x509.cc ``ssl_crypto_x509_session_verify_cert_chain``:
``X509_STORE_CTX_set_default(ctx, ssl->server ? "ssl_client" : "ssl_server")``), as it is
for Envoy (envoyproxy/envoy source/common/tls/cert_validator/default_validator.cc).

What the harness adds, and why it does not change a verdict:

* gRPC's client also matches the server's name (``tsi_ssl_peer_matches_name`` on DNS
  SANs), which Envoy's mesh validation does not do (it matches the SPIFFE URI SAN). The
  harness's server leaf therefore carries the DNS SAN ``HARNESS_HOST`` beside its SPIFFE
  ID and the client asks for that name; the generated name constraints are URI-only, so
  the extra DNS name is never constrained.
* Each direction is its own handshake, so a refusal is attributed to its purpose:
  ``ssl_server`` = the client verifies the set's chain presented by the server;
  ``ssl_client`` = the server (client auth required) verifies the set's chain presented
  by the client. The other side of each handshake uses the harness's own known-good CA.

Leaves are issued by the set's ca-cert with ca-key the way istiod issues them (istio/istio
security/pkg/pki/util/generate_cert.go: keyUsage digitalSignature + keyEncipherment,
extendedKeyUsage serverAuth + clientAuth, SPIFFE URI SAN), and presented followed by the
raw cert-chain bytes, as istio-agent hands them to Envoy (leaf, then cert-chain.pem).
Everything listens on 127.0.0.1 only.
"""

import datetime
import os
from concurrent import futures

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from azext_meshca.rules.consumers import envoy

# gRPC logs every refused handshake at INFO; the verdicts are read from the calls instead.
# Set before grpc is first imported (it reads the variable when its core starts).
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
import grpc  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

HARNESS_HOST = "workload.mesh.test"
_METHOD = "/meshca.Harness/Ping"


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def issue_leaf(ca_cert, ca_key, *, dns=None, now=None):
    """(leaf certificate, its P-256 key) issued like an istiod workload certificate."""
    now = now or _now()
    key = ec.generate_private_key(ec.SECP256R1())
    builder = envoy.istio_leaf_builder(ca_cert, key.public_key(), now, names=[x509.DNSName(dns)] if dns else (),
                                       serial=x509.random_serial_number())
    return builder.sign(ca_key, None if _is_ed(ca_key) else hashes.SHA256()), key


def _is_ed(key):
    return type(key).__name__.startswith(("Ed25519", "Ed448", "_Ed25519", "_Ed448"))


class _HarnessCA:  # pylint: disable=too-few-public-methods
    """The known-good other side of each handshake: one P-256 root that signs leaves directly."""

    def __init__(self):
        now = _now()
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "meshca harness root")])
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(1)
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=30))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                    critical=True)
                     .sign(self.key, hashes.SHA256()))


_HARNESS = {}


def _harness_ca():
    if "ca" not in _HARNESS:
        _HARNESS["ca"] = _HarnessCA()
    return _HARNESS["ca"]


def _ping(request, _context):
    return request


def _serve(server_key, server_chain, client_roots):
    """A started gRPC server on 127.0.0.1:<free port>, and that port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    handler = grpc.method_handlers_generic_handler(
        "meshca.Harness", {"Ping": grpc.unary_unary_rpc_method_handler(_ping)})
    server.add_generic_rpc_handlers((handler,))
    credentials = grpc.ssl_server_credentials(
        [(server_key, server_chain)], root_certificates=client_roots,
        require_client_auth=client_roots is not None)
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, port


def _call(port, roots, client_key=None, client_chain=None, timeout=5.0):
    """None when the RPC went through, else gRPC's error text (the TLS failure)."""
    credentials = grpc.ssl_channel_credentials(root_certificates=roots, private_key=client_key,
                                               certificate_chain=client_chain)
    options = [("grpc.ssl_target_name_override", HARNESS_HOST), ("grpc.enable_retries", 0)]
    with grpc.secure_channel(f"127.0.0.1:{port}", credentials, options=options) as channel:
        try:
            channel.unary_unary(_METHOD)(b"ping", timeout=timeout)
        except grpc.RpcError as error:
            # the RpcError a failed call raises is also a grpc.Call
            return f"{error.code().name}: {error.details()}"  # pylint: disable=no-member
    return None


def _one_direction(server_args, client_args):
    """Run one handshake; a credentials error counts as a refusal with its text."""
    try:
        server, port = _serve(*server_args)
    except (RuntimeError, ValueError) as error:
        return f"server credentials refused: {error}"
    try:
        return _call(port, *client_args)
    except (RuntimeError, ValueError) as error:
        return f"client credentials refused: {error}"
    finally:
        server.stop(None)


def handshake(root_pem, ca_cert, ca_key, cert_chain_pem, *, now=None):
    """{"ssl_server": None | error, "ssl_client": None | error} for a CA set.

    root_pem and cert_chain_pem are the raw bytes of root-cert and cert-chain (their PEM
    framing is part of what is tested); ca_cert / ca_key are parsed objects, used only to
    issue the leaves.
    """
    harness = _harness_ca()
    harness_root = _pem(harness.cert)
    server_leaf, server_key = issue_leaf(ca_cert, ca_key, dns=HARNESS_HOST, now=now)
    client_leaf, client_key = issue_leaf(ca_cert, ca_key, now=now)
    good_leaf, good_key = issue_leaf(harness.cert, harness.key, dns=HARNESS_HOST, now=now)
    # ssl_server: the client (trusting root-cert) verifies the set's chain from the server.
    server_chain = _pem(server_leaf) + cert_chain_pem
    ssl_server = _one_direction((_key_pem(server_key), server_chain, None), (root_pem,))
    # ssl_client: the server (trusting root-cert, client auth required) verifies the set's chain.
    client_chain = _pem(client_leaf) + cert_chain_pem
    ssl_client = _one_direction((_key_pem(good_key), _pem(good_leaf), root_pem),
                                (harness_root, _key_pem(client_key), client_chain))
    return {"ssl_server": ssl_server, "ssl_client": ssl_client}
