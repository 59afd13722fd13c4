"""Test-time factory for Istio plug-in CA sets (root-cert, ca-cert, ca-key, cert-chain).

Why this exists: every validation rule needs a "good" set and a set broken in
exactly one way. Building them here, at test time, keeps private keys out of
the repository (project rule) and lets one keyword switch on one defect.

The good shape follows Istio's ``tools/certs`` recipe (istio/istio ``tools/certs/common.mk``):
root ``O=Istio, CN=Root CA`` and intermediate ``O=Istio, CN=Intermediate CA,
L=<cluster>`` with pathlen:0, SAN ``DNS:istiod.istio-system.svc``, the recipe's
keyUsage, cert-chain = ca-cert + root-cert, PKCS#8 key.

Determinism: keys are cached per label for the life of the process, serial
numbers are derived from labels, and dates are anchored at ``ANCHOR_TIME``
(fixed at import) unless ``now=`` is given. So two calls with the same
arguments return byte-identical sets, and ``set_id='B'`` gives a different
root that carries the same subject name (a "root changed" scenario).
"""

import datetime
import hashlib
import os
import subprocess
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PLUGIN_OBJECTS = ("root-cert", "ca-cert", "ca-key", "cert-chain")
ANCHOR_TIME = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
FACTORY_KEY_PASSWORD = b"certfactory-test-password"
ISTIOD_SAN = "istiod.istio-system.svc"

_KEY_CACHE = {}
_KEY_LOCK = threading.Lock()

_EKU_BY_NAME = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "anyExtendedKeyUsage": ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
}


# --------------------------------------------------------------------------- keys

def cached_key(label, kind="rsa", size=2048):
    """A private key that is generated once per process per (label, kind, size).

    Why: RSA generation dominates the suite's run time; caching keeps it fast
    while each label still names a distinct key (set A's root != set B's root).
    """
    cache_key = (label, kind, size)
    with _KEY_LOCK:
        if cache_key not in _KEY_CACHE:
            if kind == "rsa":
                _KEY_CACHE[cache_key] = rsa.generate_private_key(65537, size)
            elif kind == "ec":
                _KEY_CACHE[cache_key] = ec.generate_private_key(ec.SECP256R1())
            else:
                raise ValueError(f"unknown key kind: {kind}")
        return _KEY_CACHE[cache_key]


def _serialize_key(key, key_format, encrypted):
    """PEM bytes of the CA key in the requested container format."""
    if encrypted:
        algorithm = serialization.BestAvailableEncryption(FACTORY_KEY_PASSWORD)
        if encrypted == "pkcs1":
            key_container = serialization.PrivateFormat.TraditionalOpenSSL  # Proc-Type header
        else:
            key_container = serialization.PrivateFormat.PKCS8  # ENCRYPTED PRIVATE KEY
    else:
        algorithm = serialization.NoEncryption()
        if key_format in ("pkcs1", "ec"):
            key_container = serialization.PrivateFormat.TraditionalOpenSSL
        else:
            key_container = serialization.PrivateFormat.PKCS8
    return key.private_bytes(serialization.Encoding.PEM, key_container, algorithm)


# --------------------------------------------------------------------------- names and certs

def _name(*pairs):
    """An x509.Name from (oid, value) pairs, in the given order."""
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in pairs])


def root_name():
    """Istio's default root subject; every root from the recipe shares it."""
    return _name((NameOID.ORGANIZATION_NAME, "Istio"), (NameOID.COMMON_NAME, "Root CA"))


def intermediate_name(cluster):
    """Istio's default intermediate subject for one cluster."""
    return _name((NameOID.ORGANIZATION_NAME, "Istio"),
                 (NameOID.COMMON_NAME, "Intermediate CA"),
                 (NameOID.LOCALITY_NAME, cluster))


def _serial_for(label):
    """A stable positive serial (< 2**159) derived from a label."""
    digest = hashlib.sha256(label.encode()).digest()
    return int.from_bytes(digest[:19], "big") | 1


def _key_usage(key_cert_sign=True):
    """The recipe's keyUsage: digitalSignature, nonRepudiation, keyEncipherment, keyCertSign."""
    return x509.KeyUsage(
        digital_signature=True, content_commitment=True, key_encipherment=True,
        data_encipherment=False, key_agreement=False, key_cert_sign=key_cert_sign,
        crl_sign=False, encipher_only=False, decipher_only=False)


def _issue(*, subject, issuer, public_key, signing_key, serial_label, not_before,
           not_after, is_ca=True, pathlen=None, key_cert_sign=True, san=None,
           eku=None, issuer_public_key=None):
    """Sign one certificate with the recipe's extensions and the given deviations."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(_serial_for(serial_label))
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=pathlen if is_ca else None),
                       critical=True)
        .add_extension(_key_usage(key_cert_sign), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    if issuer_public_key is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key), critical=False)
    if san:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in san]), critical=False)
    if eku:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([_EKU_BY_NAME.get(name) or x509.ObjectIdentifier(name)
                                   for name in eku]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


# DER encodings of the AlgorithmIdentifier OIDs (same length, so a swap keeps every length).
_SHA256_RSA_OID_DER = bytes.fromhex("06092a864886f70d01010b")
_WEAK_RSA_OID_DER = {"sha1": bytes.fromhex("06092a864886f70d010105"),
                     "md5": bytes.fromhex("06092a864886f70d010104")}
_WEAK_HASHES = {"sha1": hashes.SHA1, "md5": hashes.MD5}


def _resign_with_weak_hash(cert, signing_key, weak_hash):
    """Re-sign an RSA/SHA-256 certificate with SHA-1 or MD5.

    Why this detour: cryptography refuses to build SHA-1/MD5 certificates, yet
    the validator must be shown one. The OIDs have equal DER length, so the
    algorithm identifiers are swapped in place, and the RSA signature (always
    modulus-sized) is replaced at the end of the DER.
    """
    der = cert.public_bytes(serialization.Encoding.DER)
    if der.count(_SHA256_RSA_OID_DER) != 2:
        raise ValueError("weak-hash variants need an RSA issuer")
    weak_der = der.replace(_SHA256_RSA_OID_DER, _WEAK_RSA_OID_DER[weak_hash])
    tbs = x509.load_der_x509_certificate(weak_der).tbs_certificate_bytes
    signature = signing_key.sign(tbs, padding.PKCS1v15(), _WEAK_HASHES[weak_hash]())
    return x509.load_der_x509_certificate(weak_der[:-len(signature)] + signature)


def _pem(*certs):
    return b"".join(cert.public_bytes(serialization.Encoding.PEM) for cert in certs)


def _validity(anchor, days_left, default_days):
    """(not_before, not_after) where daysLeft at ``anchor`` equals ``days_left`` when given."""
    not_before = anchor - datetime.timedelta(days=1)
    if days_left is None:
        return not_before, anchor + datetime.timedelta(days=default_days)
    not_after = anchor + datetime.timedelta(days=days_left, hours=1)
    if not_after <= not_before:
        not_before = not_after - datetime.timedelta(days=365)
    return not_before, not_after


def _make_root(set_id, anchor, key_size, days_left=None, pathlen=None, is_ca=True,
               self_signed=True):
    """(root certificate, root key) for one set; same subject name for every set."""
    root_key = cached_key(f"{set_id}/root", size=key_size)
    not_before, not_after = _validity(anchor, days_left, 3650)
    if self_signed:
        issuer, signing_key = root_name(), root_key
    else:
        issuer = _name((NameOID.ORGANIZATION_NAME, "Istio"),
                       (NameOID.COMMON_NAME, "Outer Root CA"))
        signing_key = cached_key(f"{set_id}/outer-root", size=key_size)
    root = _issue(subject=root_name(), issuer=issuer, public_key=root_key.public_key(),
                  signing_key=signing_key, serial_label=f"{set_id}/root",
                  not_before=not_before, not_after=not_after, is_ca=is_ca, pathlen=pathlen,
                  issuer_public_key=None if self_signed else signing_key.public_key())
    return root, root_key


def _make_unrelated_ca(anchor):
    """A self-signed CA that has nothing to do with any plug-in set."""
    key = cached_key("unrelated/root")
    name = _name((NameOID.ORGANIZATION_NAME, "Other"), (NameOID.COMMON_NAME, "Unrelated CA"))
    return _issue(subject=name, issuer=name, public_key=key.public_key(), signing_key=key,
                  serial_label="unrelated/root", not_before=anchor - datetime.timedelta(days=1),
                  not_after=anchor + datetime.timedelta(days=3650))


def _ca_key_for(ca_id, key_format, key_size, weak_key):
    """The issuing CA's private key, chosen by format and strength variants."""
    if key_format in ("ec", "ec-pkcs8"):
        return cached_key(f"{ca_id}/ca", kind="ec")
    return cached_key(f"{ca_id}/ca", size=1024 if weak_key else key_size)


def _ca_validity(anchor, expired, not_yet_valid, days_left):
    """Validity window of ca-cert for the expiry variants."""
    if expired:
        return anchor - datetime.timedelta(days=400), anchor - datetime.timedelta(days=1)
    if not_yet_valid:
        return anchor + datetime.timedelta(days=1), anchor + datetime.timedelta(days=3650)
    return _validity(anchor, days_left, 3650)


def _junk_wrap(data):
    """Text around PEM blocks, the way `openssl pkcs12 -nodes` prints bag attributes."""
    return (b"Bag Attributes\n    friendlyName: plug-in CA\nsubject=/O=Istio\n\n"
            + data + b"\n# exported by hand\n")


def _chain_list(ca_cert, intermediate, root_certs, signing_root, variant):
    """cert-chain certificates for the chain variants (default: ca-cert, [int1], root-cert)."""
    if variant["chain_missing_intermediate"]:
        return [ca_cert, signing_root]
    if variant["chain_wrong_order"]:
        return [ca_cert, signing_root, intermediate]
    chain = [ca_cert] + ([intermediate] if intermediate is not None else []) + list(root_certs)
    if variant["chain_not_starting_with_ca_cert"]:
        chain = chain[1:]
    if variant["chain_extra_unrelated"]:
        chain.append(variant["unrelated"])
    return chain


def make_plugin_set(*, set_id="A", ca_id=None, cluster="cluster1", key_size=2048,
                    key_format="pkcs8", tiers=2, rotation=False, rotation_peer=None,
                    expired=False, not_yet_valid=False, days_left=None, root_days_left=None,
                    mismatched_key=False, encrypted_key=False, ca_not_ca=False,
                    no_keycertsign=False, eku=None, sha1=False, md5=False, weak_key=False,
                    chain_missing_intermediate=False, chain_wrong_order=False,
                    chain_extra_unrelated=False, chain_not_starting_with_ca_cert=False,
                    wrong_root=False, root_pathlen0_over_issuing_intermediate=False,
                    root_not_self_signed=False, root_not_ca=False,
                    intermediate_no_keycertsign=False, intermediate_not_ca=False, root_pathlen=None,
                    intermediate_pathlen=None, crlf=False, junk_around=False, now=None):
    """The four plug-in objects as PEM bytes, with at most a few chosen defects.

    Keyword meanings (defaults give Istio's recipe with RSA-2048 for speed):
      set_id        which root (and default intermediate) keys; 'B' = another root, same name
      ca_id         which intermediate key (default set_id): a new intermediate, same root
      key_format    'pkcs8' | 'pkcs1' (RSA PRIVATE KEY) | 'ec' (EC PRIVATE KEY, P-256) | 'ec-pkcs8'
      tiers         2 (root -> ca-cert) or 3 (root -> intermediate1 -> ca-cert)
      rotation      root-cert holds this set's root plus rotation_peer's root (both 'Root CA')
      encrypted_key True/'pkcs8' (ENCRYPTED PRIVATE KEY) or 'pkcs1' (Proc-Type: 4,ENCRYPTED)
      days_left / root_days_left   exact daysLeft of ca-cert / root at ``now``
      sha1 / md5    ca-cert signed by its (RSA) issuer with that broken hash
      root_pathlen / intermediate_pathlen   pathlen of the root / of intermediate1 (3 tiers)
    The chain variants, root_pathlen0_over_issuing_intermediate,
    intermediate_no_keycertsign and intermediate_not_ca imply tiers=3.
    """
    anchor = now or ANCHOR_TIME
    if tiers not in (2, 3):
        raise ValueError("tiers must be 2 or 3")
    if key_format not in ("pkcs8", "pkcs1", "ec", "ec-pkcs8"):
        raise ValueError(f"unknown key_format: {key_format}")
    if (chain_missing_intermediate or chain_wrong_order or intermediate_no_keycertsign or intermediate_not_ca
            or root_pathlen0_over_issuing_intermediate or intermediate_pathlen is not None):
        tiers = 3
    if root_pathlen0_over_issuing_intermediate:
        root_pathlen = 0
    ca_id = ca_id or set_id

    root, root_key = _make_root(
        set_id, anchor, key_size, days_left=root_days_left,
        pathlen=root_pathlen,
        is_ca=not root_not_ca, self_signed=not root_not_self_signed)

    issuer_cert, issuer_key, intermediate = root, root_key, None
    if tiers == 3:
        int_key = cached_key(f"{set_id}/int1", size=key_size)
        int_before, int_after = _validity(anchor, None, 3650)
        intermediate = _issue(
            subject=_name((NameOID.ORGANIZATION_NAME, "Istio"),
                          (NameOID.COMMON_NAME, "Intermediate CA 1")),
            issuer=root.subject, public_key=int_key.public_key(), signing_key=root_key,
            serial_label=f"{set_id}/int1", not_before=int_before, not_after=int_after,
            pathlen=intermediate_pathlen, key_cert_sign=not intermediate_no_keycertsign,
            is_ca=not intermediate_not_ca, issuer_public_key=root_key.public_key())
        issuer_cert, issuer_key = intermediate, int_key

    ca_key = _ca_key_for(ca_id, key_format, key_size, weak_key)
    ca_before, ca_after = _ca_validity(anchor, expired, not_yet_valid, days_left)
    ca_cert = _issue(
        subject=intermediate_name(cluster), issuer=issuer_cert.subject,
        public_key=ca_key.public_key(), signing_key=issuer_key,
        serial_label=f"{set_id}/{ca_id}/ca/{cluster}",
        not_before=ca_before, not_after=ca_after, is_ca=not ca_not_ca, pathlen=0,
        key_cert_sign=not no_keycertsign, san=[ISTIOD_SAN], eku=eku,
        issuer_public_key=issuer_key.public_key())
    weak_hash = "sha1" if sha1 else ("md5" if md5 else None)
    if weak_hash:
        ca_cert = _resign_with_weak_hash(ca_cert, issuer_key, weak_hash)

    root_certs = [root]
    if rotation:
        peer_id = rotation_peer or ("B" if set_id != "B" else "A")
        root_certs.append(_make_root(peer_id, anchor, key_size)[0])
    if wrong_root:
        other_id = f"{set_id}-wrong"
        root_certs = [_make_root(other_id, anchor, key_size)[0]]

    key_holder = cached_key(f"{ca_id}/mismatch") if mismatched_key else ca_key
    variant = dict(chain_missing_intermediate=chain_missing_intermediate,
                   chain_wrong_order=chain_wrong_order,
                   chain_extra_unrelated=chain_extra_unrelated,
                   chain_not_starting_with_ca_cert=chain_not_starting_with_ca_cert,
                   unrelated=_make_unrelated_ca(anchor) if chain_extra_unrelated else None)
    chain = _chain_list(ca_cert, intermediate, [root] if wrong_root else root_certs, root,
                        variant)

    objects = {
        "root-cert": _pem(*root_certs),
        "ca-cert": _pem(ca_cert),
        "ca-key": _serialize_key(key_holder, key_format, encrypted_key),
        "cert-chain": _pem(*chain),
    }
    if junk_around:
        objects = {name: _junk_wrap(data) for name, data in objects.items()}
    if crlf:
        objects = {name: data.replace(b"\n", b"\r\n") for name, data in objects.items()}
    return objects


def write_cert_dir(path, objects):
    """Write objects as the four files istiod reads (root-cert.pem, ...); skips None values."""
    os.makedirs(path, exist_ok=True)
    written = {}
    for name in PLUGIN_OBJECTS:
        data = objects.get(name)
        if data is None:
            continue
        file_path = os.path.join(str(path), f"{name}.pem")
        with open(file_path, "wb") as handle:
            handle.write(data)
        if name == "ca-key":
            os.chmod(file_path, 0o600)
        written[name] = file_path
    return written


# --------------------------------------------------------------------------- openssl CLI recipe

_ROOT_CONF = """\
[ req ]
encrypt_key = no
prompt = no
utf8 = yes
default_md = sha256
default_bits = {bits}
req_extensions = req_ext
x509_extensions = req_ext
distinguished_name = req_dn
[ req_ext ]
subjectKeyIdentifier = hash
basicConstraints = critical, CA:true
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, keyCertSign
[ req_dn ]
O = Istio
CN = Root CA
"""

_INTERMEDIATE_CONF = """\
[ req ]
encrypt_key = no
prompt = no
utf8 = yes
default_md = sha256
default_bits = {bits}
req_extensions = req_ext
x509_extensions = req_ext
distinguished_name = req_dn
[ req_ext ]
subjectKeyIdentifier = hash
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment, keyCertSign
subjectAltName=@san
[ san ]
DNS.1 = istiod.istio-system.svc
[ req_dn ]
O = Istio
CN = Intermediate CA
L = {cluster}
"""


def _openssl(workdir, *args):
    """Run one openssl command in workdir; output is captured so nothing leaks to logs."""
    subprocess.run(["openssl", *args], cwd=str(workdir), check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def make_plugin_set_with_openssl(tmpdir, cluster="cluster1", key_size=2048):
    """The plug-in set made by the openssl CLI, as Istio's tools/certs Makefile does.

    Why: a set that our own ``cryptography`` code did not build is an
    independent check that the validator accepts what users really upload.
    Keys stay in ``tmpdir`` (a test temp dir) and are never committed.
    """
    workdir = str(tmpdir)
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "root-ca.conf"), "w") as handle:
        handle.write(_ROOT_CONF.format(bits=key_size))
    with open(os.path.join(workdir, "intermediate.conf"), "w") as handle:
        handle.write(_INTERMEDIATE_CONF.format(bits=key_size, cluster=cluster))
    _openssl(workdir, "genrsa", "-out", "root-key.pem", str(key_size))
    _openssl(workdir, "req", "-sha256", "-new", "-key", "root-key.pem", "-config",
             "root-ca.conf", "-out", "root-cert.csr")
    _openssl(workdir, "x509", "-req", "-sha256", "-days", "3650", "-signkey", "root-key.pem",
             "-extensions", "req_ext", "-extfile", "root-ca.conf", "-in", "root-cert.csr",
             "-out", "root-cert.pem")
    _openssl(workdir, "genrsa", "-out", "ca-key.pem", str(key_size))
    _openssl(workdir, "req", "-sha256", "-new", "-config", "intermediate.conf", "-key",
             "ca-key.pem", "-out", "cluster-ca.csr")
    _openssl(workdir, "x509", "-req", "-sha256", "-days", "3650", "-CA", "root-cert.pem",
             "-CAkey", "root-key.pem", "-CAcreateserial", "-extensions", "req_ext",
             "-extfile", "intermediate.conf", "-in", "cluster-ca.csr", "-out", "ca-cert.pem")
    objects = {}
    for name in ("root-cert", "ca-cert", "ca-key"):
        with open(os.path.join(workdir, f"{name}.pem"), "rb") as handle:
            objects[name] = handle.read()
    objects["cert-chain"] = objects["ca-cert"] + objects["root-cert"]
    with open(os.path.join(workdir, "cert-chain.pem"), "wb") as handle:
        handle.write(objects["cert-chain"])
    return objects


# --------------------------------------------------------------------------- pathological pools

def make_same_key_pool(count, anchor=None):
    """(root, ca_cert, pool): ``count`` intermediates that share one subject and one EC key.

    Stands for x509-limbo's ``pathological::pathological-chain-same-subject-same-key``
    (C2SP/x509-limbo limbo/testcases/pathological.py, commit 8a2e6f4): every
    intermediate is self-issued by the same key, so each one verifies as the
    issuer of every other; none reaches the root. ca-cert is issued by that key
    too. A depth-first search over orderings of the pool is exponential here.
    """
    anchor = anchor or ANCHOR_TIME
    not_before, not_after = anchor - datetime.timedelta(days=1), anchor + datetime.timedelta(days=365)
    root_key = cached_key("pool-root", kind="ec")
    pool_key = cached_key("pool-intermediate", kind="ec")
    root_name_ = _name((NameOID.COMMON_NAME, "Pool Root CA"))
    pool_name = _name((NameOID.COMMON_NAME, "Pool Intermediate CA"))
    root = _issue(subject=root_name_, issuer=root_name_, public_key=root_key.public_key(),
                  signing_key=root_key, serial_label="pool-root", not_before=not_before,
                  not_after=not_after)
    pool = [_issue(subject=pool_name, issuer=pool_name, public_key=pool_key.public_key(),
                   signing_key=pool_key, serial_label="pool-%d" % index, not_before=not_before,
                   not_after=not_after)
            for index in range(count)]
    ca_cert = _issue(subject=intermediate_name("pool"), issuer=pool_name,
                     public_key=cached_key("pool-ca", kind="ec").public_key(), signing_key=pool_key,
                     serial_label="pool-ca", not_before=not_before, not_after=not_after, pathlen=0)
    return root, ca_cert, pool


def same_key_pool_plugin_set(count):
    """A plug-in set whose cert-chain is ca-cert plus ``count - 1`` same-key intermediates."""
    root, ca_cert, pool = make_same_key_pool(count - 1)
    ca_key = cached_key("pool-ca", kind="ec")
    return {"root-cert": _pem(root), "ca-cert": _pem(ca_cert),
            "ca-key": _serialize_key(ca_key, "ec", None), "cert-chain": _pem(ca_cert, *pool)}
