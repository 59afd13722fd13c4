"""ca-key reduced to what the checks need: its format and its public half.

diagnose reads ca-key from Key Vault, turns it into key facts at once and drops the
private bytes, so neither the snapshot nor an exported file ever holds them. The
validator accepts key facts wherever it accepts key bytes.
"""

import hashlib

from azext_meshca.model import certs


class _PublicHalf:
    """Stands in for a private key where only its public half is consulted."""

    def __init__(self, public_key):
        self._public_key = public_key
        self.key_size = getattr(public_key, "key_size", None)

    def public_key(self):
        return self._public_key

    def __repr__(self):
        return "<public half of a private key>"


def key_facts(data):
    """{kind: "ok", format, algorithm, keySize, publicKeyPem, publicKeySha256} or
    {kind: <format error kind>, detail} when the key does not parse."""
    from cryptography.hazmat.primitives import serialization
    try:
        info = certs.parse_private_key(data)
    except certs.CertFormatError as error:
        return {"kind": error.kind, "detail": error.detail}
    public_key = info.key.public_key()
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    pem = public_key.public_bytes(serialization.Encoding.PEM,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return {"kind": "ok", "format": info.format, "algorithm": info.algorithm, "keySize": info.key_size,
            "publicKeyPem": pem.decode("ascii"), "publicKeySha256": hashlib.sha256(der).hexdigest()}


def key_info_from_facts(facts):
    """A PrivateKeyInfo-shaped object built from key facts, or CertFormatError."""
    from cryptography.hazmat.primitives import serialization
    if facts.get("kind") != "ok":
        raise certs.CertFormatError(facts.get("kind") or "bad-pem", facts.get("detail") or "unusable key")
    public_key = serialization.load_pem_public_key(facts["publicKeyPem"].encode("ascii"))
    return _KeyInfoFromFacts(_PublicHalf(public_key), facts["format"], facts.get("algorithm"))


class _KeyInfoFromFacts(certs.PrivateKeyInfo):
    """PrivateKeyInfo whose key is only the public half; the algorithm comes from the facts."""

    __slots__ = ("_algorithm",)

    def __init__(self, key, key_format, algorithm):
        super().__init__(key, key_format)
        self._algorithm = algorithm

    @property
    def algorithm(self):
        return self._algorithm or "unknown"
