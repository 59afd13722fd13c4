"""Throwaway TLS PKI for the simulator's loopback servers.

Generated once per process (key generation is the slow part of start-up) and
written to a private temp dir.  Nothing here is ever committed: the keys exist
only for the life of the test process.
"""

import datetime
import ipaddress
import os
import tempfile
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

_lock = threading.Lock()
_cached = None


@dataclass(frozen=True)
class ServerPki:
    """Paths of the CA bundle clients trust and the server's cert/key files."""

    ca_file: str
    cert_file: str
    key_file: str
    ca_pem: bytes


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "meshca simulator"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _build(directory):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("meshca simulator CA"))
        .issuer_name(_name("meshca simulator CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.DNSName("localhost"),
            # Every vault's own host, https://<name>.vault.loop.test/ (the Loop cloud's
            # Key Vault DNS suffix, sandbox/sim/harness.py), as vaults are named in Azure.
            x509.DNSName("*.vault.loop.test"),
        ]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca_cert.public_bytes(serialization.Encoding.PEM)
    ca_file = os.path.join(directory, "sim-ca.pem")
    cert_file = os.path.join(directory, "sim-server.pem")
    key_file = os.path.join(directory, "sim-server.key")
    with open(ca_file, "wb") as handle:
        handle.write(ca_pem)
    with open(cert_file, "wb") as handle:
        handle.write(server_cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    return ServerPki(ca_file=ca_file, cert_file=cert_file, key_file=key_file, ca_pem=ca_pem)


def server_pki():
    """The process-wide simulator PKI (created on first use)."""
    global _cached
    with _lock:
        if _cached is None:
            directory = tempfile.mkdtemp(prefix="meshca-sim-pki-")
            _cached = _build(directory)
        return _cached
