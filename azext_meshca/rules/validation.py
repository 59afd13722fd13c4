"""Rules for an Istio plug-in CA set: root-cert, ca-cert, ca-key, cert-chain.

Each rule emits findings through the catalog (codes MCA6xx for the objects'
presence and format, MCA7xx for the certificates), and names the object it
concerns. Where istiod or Envoy would log a known error for the problem, that
exact text goes into the finding's evidence so users can match their logs.

Rules that depend on an object run only when that object parsed, so one
broken file gives one clear finding instead of a cascade. Everything here is
pure: bytes in, findings out.
"""

import datetime
import re
from collections.abc import Mapping

from cryptography import x509

from azext_meshca.model import certs
from azext_meshca.rules.catalog import (
    BOTH, CERT_FORMAT, ENVOY, ISTIOD, KEY_FORMAT, STARTUP_REFUSAL, code_for, finding)
from azext_meshca.rules.consumers import envoy, istiod
from azext_meshca.model.plugin import CERTIFICATE_OBJECTS
from azext_meshca.rules.registry import CA_SET, SHOWN, rule

ROOT_CERT = "root-cert"
CA_CERT = "ca-cert"
CA_KEY = "ca-key"
CERT_CHAIN = "cert-chain"

# Texts istiod (Go 1.19+) and Envoy log for these problems (istio/istio
# security/pkg/pki/util/keycertbundle.go, Go crypto/x509; Envoy's BoringSSL verifier).
ISTIOD_INCOMPLETE_BUNDLE = "failed to create an istiod CA: incomplete signing CA bundle detected"
ISTIOD_INVALID_PEM_CERT = "invalid PEM encoded certificate"
ISTIOD_PARSE_X509 = "failed to parse X.509 certificate"
ISTIOD_INVALID_PEM_KEY = "invalid PEM-encoded key"
# istio/istio security/pkg/pki/util/crypto.go ParsePemEncodedKey, for a first block of another type.
ISTIOD_UNSUPPORTED_KEY_BLOCK = "unsupported PEM block type for a private key: "
ISTIOD_UNKNOWN_AUTHORITY = "x509: certificate signed by unknown authority"
ISTIOD_EXPIRED = "x509: certificate has expired or is not yet valid"
ISTIOD_KEY_MISMATCH = "the cert does not match the key: tls: private key does not match public key"
ISTIOD_NOT_CA = "certificate is not authorized to sign other certificates"
ISTIOD_EKU = "x509: certificate specifies an incompatible key usage"
# Go's text for a pathlen violation inside the chain istiod verifies at load.
ISTIOD_PATHLEN = "x509: too many intermediates for path length constraint"
# Go crypto/x509 parser.go, for a certificate that repeats an extension.
ISTIOD_DUPLICATE_EXTENSION = "x509: certificate contains duplicate extensions"
MESH_VERIFY_FAILED = "CERTIFICATE_VERIFY_FAILED"
MESH_UNKNOWN_CA = "TLSV1_ALERT_UNKNOWN_CA"

DEFAULT_SOURCE = "input"
# Istio's recipe issues the intermediate moments after the root with the same
# lifetime, so the root "expires first" by seconds; only a real gap is reported.
ROOT_EXPIRY_TOLERANCE = datetime.timedelta(days=1)


def _istiod(text):
    return "istiod: " + text


def _envoy(text):
    return "envoy: " + text


class _CertRef:  # pylint: disable=too-few-public-methods  # a record: a certificate and its cached names
    """One parsed certificate and where it came from (object, 1-based position)."""

    __slots__ = ("cert", "object", "index", "fingerprint", "subject")

    def __init__(self, cert, obj, index):
        self.cert = cert
        self.object = obj
        self.index = index
        self.fingerprint = certs.fingerprint(cert)
        self.subject = certs.subject_string(cert)


# --------------------------------------------------------------------------- parsing

def _source(sources, name):
    return (sources or {}).get(name) or DEFAULT_SOURCE


def _format_finding(name, error, source, is_key):
    """The MCA6xx finding for one object that failed to parse."""
    if is_key:
        code = code_for(KEY_FORMAT, error.kind) or "MCA609"
    else:
        code = code_for(CERT_FORMAT, error.kind) or "MCA605"
    if error.kind == "duplicate-extension":
        evidence = [_istiod(ISTIOD_DUPLICATE_EXTENSION)]
    elif is_key and getattr(error, "label", None):
        evidence = [_istiod(ISTIOD_UNSUPPORTED_KEY_BLOCK + error.label)]
    elif error.kind == "bad-pem" and not is_key and "X.509" in error.detail:
        evidence = [_istiod(ISTIOD_PARSE_X509)]
    else:
        evidence = [_istiod(ISTIOD_INVALID_PEM_KEY if is_key else ISTIOD_INVALID_PEM_CERT)]
    return finding(code, name, evidence=[error.detail] + evidence, source=source,
                   detail=error.detail, size=f"more than {certs.MAX_OBJECT_BYTES}")


def _go_reads(name, data):
    """What istiod reads from an object meshca's strict reader refused: root-cert and cert-chain's
    certificate pool, ca-cert's first block (ParsePemEncodedCertificate); [] when Go reads nothing."""
    if name != CA_CERT:
        return istiod.cert_pool(data)
    try:
        return [istiod.parse_first_certificate(data, CA_CERT)]
    except istiod.Refusal:
        return []


def _missing_finding(name, source):
    evidence = [_istiod(ISTIOD_INCOMPLETE_BUNDLE) + " (Istio 1.26.1 and later)"]
    if name == CA_KEY:
        evidence.append("istiod before 1.26.1 silently falls back to its self-signed CA")
    return finding("MCA601", name, evidence=evidence, source=source)


def _parse_cert_object(name, data, source, findings):
    """Certificates of one object, or None after recording why not."""
    if data is None:
        findings.append(_missing_finding(name, source))
        return None
    if name == CERT_CHAIN and not certs._as_bytes(data).strip():  # pylint: disable=protected-access
        # istiod starts with an empty cert-chain (ca.go minTTL skips it); the agent breaks: MCA733.
        return []
    try:
        return certs.parse_pem_bundle(data)
    except certs.CertFormatError as error:
        # Go's encoding/pem skips a block it cannot decode and CertPool skips one it cannot parse:
        # root-cert and cert-chain load with the blocks that remain (rules/consumers/istiod.py cert_pool).
        pool = _go_reads(name, data) if error.kind == "bad-pem" else []
        if pool:
            return pool
        findings.append(_format_finding(name, error, source, is_key=False))
        return None


def _parse_key_object(data, source, findings):
    """The CA key, or None after recording why not.

    ``data`` is PEM bytes, or the key facts diagnose keeps instead of the private
    bytes (azext_meshca/model/keyfacts.py): both are judged by the same rules.
    """
    if data is None:
        findings.append(_missing_finding(CA_KEY, source))
        return None
    try:
        if isinstance(data, Mapping):
            from azext_meshca.model.keyfacts import key_info_from_facts
            return key_info_from_facts(data)
        return certs.parse_private_key(data)
    except certs.CertFormatError as error:
        findings.append(_format_finding(CA_KEY, error, source, is_key=True))
        return None


def _refs(name, bundle):
    return [_CertRef(cert, name, number) for number, cert in enumerate(bundle or [], start=1)]


def _certificate_rows(refs_by_object, now):
    """describe() of every certificate, tagged with its object and 1-based index."""
    rows = []
    for name, refs in refs_by_object.items():
        for ref in refs:
            row = certs.describe(ref.cert, now)
            row["object"] = name
            row["index"] = ref.index
            rows.append(row)
    return rows


def _unique(refs_by_object):
    """Each distinct certificate once, attributed to the first object holding it.

    Why: cert-chain repeats ca-cert and the root; reporting them three times
    would triple every finding.
    """
    seen, unique = set(), []
    for refs in refs_by_object.values():
        for ref in refs:
            if ref.fingerprint not in seen:
                seen.add(ref.fingerprint)
                unique.append(ref)
    return unique


# --------------------------------------------------------------------------- root-cert

def _check_roots(roots):
    """root-cert should hold self-signed CAs only; several roots = rotation.

    An entry that is not self-signed is a warning (MCA701): Go and BoringSSL (Envoy) both trust it
    as an anchor. Only self-signed entries count as roots for MCA703, so a root beside its own
    intermediate is not reported as a rotation.
    """
    findings, self_issued = [], []
    for ref in roots:
        # By name, not by signature: Go never checks a trust anchor's self-signature, so a
        # self-issued root whose signature cryptography cannot verify is still a root (#21).
        if ref.cert.issuer != ref.cert.subject:
            findings.append(finding(
                "MCA701", ROOT_CERT, evidence=["issuer: " + certs.name_string(ref.cert.issuer),
                                               "sha256 " + ref.fingerprint],
                index=ref.index, subject=ref.subject))
        else:
            self_issued.append(ref)
        is_ca, _ = certs.basic_constraints(ref.cert)
        if not is_ca and ref.cert.version != x509.Version.v1:  # Go accepts a v1 parent (x509.go CheckSignatureFrom)
            findings.append(finding("MCA702", ROOT_CERT, evidence=["sha256 " + ref.fingerprint],
                                    index=ref.index, subject=ref.subject))
    if len(self_issued) > 1:
        short = ", ".join(ref.fingerprint[:23] + "..." for ref in self_issued)
        findings.append(finding(
            "MCA703", ROOT_CERT,
            evidence=[f"root {ref.index}: {ref.subject} sha256 {ref.fingerprint}"
                      for ref in self_issued],
            count=len(self_issued), fingerprints=short))
    return findings


# --------------------------------------------------------------------------- ca-cert and ca-key

def _signing_ca_findings(ref, obj, not_ca_code, no_key_cert_sign_code):
    """A certificate that issues others must be a CA with keyCertSign: Go refuses a
    non-CA issuer, and Envoy (BoringSSL) refuses one without keyCertSign."""
    findings = []
    is_ca, _ = certs.basic_constraints(ref.cert)
    if not is_ca:
        findings.append(finding(not_ca_code, obj, evidence=[_istiod(ISTIOD_NOT_CA)], subject=ref.subject))
    usage = certs.key_usage_names(ref.cert)
    if usage is not None and "keyCertSign" not in usage:
        findings.append(finding(
            no_key_cert_sign_code, obj, evidence=["keyUsage: " + ", ".join(usage), _envoy(MESH_VERIFY_FAILED)],
            subject=ref.subject, key_usage=", ".join(usage) or "(none)"))
    return findings


def _check_ca_cert(ca):
    """ca-cert must be a CA that may sign certificates."""
    return _signing_ca_findings(ca, CA_CERT, "MCA704", "MCA705")


def _check_key_match(ca, key):
    if certs.key_matches_cert(key, ca.cert):
        return []
    algorithm, size = certs.key_strength(ca.cert)[:2]
    return [finding("MCA709", CA_KEY,
                    evidence=[f"ca-key: {key.format} {key.algorithm}",
                              f"ca-cert key: {algorithm} {size}",
                              _istiod(ISTIOD_KEY_MISMATCH)],
                    subject=ca.subject)]


def _check_extended_key_usage(refs, anchor=None):
    """Go verifies ca-cert's chain for serverAuth: any EKU without it fails.

    Envoy refuses the same CA too, unless it is the trust anchor, whose EKU
    BoringSSL never checks (rules/consumers/envoy.py), hence ``breaks``.
    """
    findings = []
    for ref in refs:
        if istiod.incompatible_usage(ref.cert) is None:
            continue
        purposes = certs.extended_key_usage_names(ref.cert) or []
        item = finding(
            "MCA706", ref.object, evidence=["extendedKeyUsage: " + ", ".join(purposes),
                                            _istiod(ISTIOD_EKU)],
            index=ref.index, subject=ref.subject, eku=", ".join(purposes) or "(empty)")
        item["breaks"] = ISTIOD if ref is anchor else BOTH
        findings.append(item)
    return findings


def _check_envoy_purposes(refs):
    """MCA723: a CA below the anchor whose EKU Go accepts but BoringSSL refuses for a purpose."""
    findings = []
    for ref in refs:
        if istiod.incompatible_usage(ref.cert) is not None:
            continue  # MCA706 already says istiod refuses it
        reasons = [envoy.purpose_rejected(ref.cert, purpose) for purpose in (envoy.SSL_CLIENT, envoy.SSL_SERVER)]
        reasons = [text for text in reasons if text]
        if not reasons:
            continue
        purposes = certs.extended_key_usage_names(ref.cert) or []
        findings.append(finding(
            "MCA723", ref.object, evidence=["extendedKeyUsage: " + ", ".join(purposes)]
            + [_envoy(text) for text in reasons] + [_envoy(MESH_VERIFY_FAILED)],
            index=ref.index, subject=ref.subject, eku=", ".join(purposes) or "(empty)"))
    return findings


def _check_ca_cert_first_block(label, source):
    """MCA614: istiod signs with ca-cert.pem's FIRST block (ParsePemEncodedCertificate), whatever it is."""
    if label in (None, "CERTIFICATE"):
        return []
    return [finding("MCA614", CA_CERT, evidence=["first PEM block: " + label, _istiod(ISTIOD_PARSE_X509)],
                    source=source, label=label)]


def _check_signature_hashes(refs):
    """SHA-1 and MD5 signatures: Go refuses to verify them; BoringSSL refuses MD5 only."""
    findings = []
    for ref in refs:
        broken = certs.BROKEN_SIGNATURE_OIDS.get(ref.cert.signature_algorithm_oid)
        if broken is None:
            continue
        algorithm = certs.signature_algorithm_name(ref.cert)
        item = finding(
            "MCA707", ref.object, evidence=["signatureAlgorithm: " + algorithm,
                                            _istiod(ISTIOD_UNKNOWN_AUTHORITY)],
            index=ref.index, subject=ref.subject, algorithm=algorithm)
        item["breaks"] = BOTH if envoy.insecure_signature(ref.cert) else ISTIOD
        findings.append(item)
    return findings


def _weak_key_label(cert):
    """'RSA-1024' style label when the key is below RSA-2048 / P-256, else None."""
    algorithm, size, curve = certs.key_strength(cert)
    if algorithm in ("RSA", "DSA") and size is not None and size < 2048:
        return f"{algorithm}-{size}"
    if algorithm == "EC" and size is not None and size < 256:
        return f"EC {curve} ({size} bits)"
    return None


def _check_key_strength(refs):
    findings = []
    for ref in refs:
        label = _weak_key_label(ref.cert)
        if label is not None:
            findings.append(finding("MCA708", ref.object, evidence=["public key: " + label],
                                    index=ref.index, subject=ref.subject, key=label))
    return findings


# --------------------------------------------------------------------------- path and cert-chain

def _partial_path(ca, chain):
    """Follow signatures from ca-cert through cert-chain as far as they go."""
    path, used = [ca], {ca.fingerprint}
    while True:
        issuer = next((ref for ref in chain if ref.fingerprint not in used
                       and certs.signed_by(path[-1].cert, ref.cert)), None)
        if issuer is None:
            return path
        path.append(issuer)
        used.add(issuer.fingerprint)


def _unknown_authority_findings(ca, chain, roots):
    """MCA710 with the likely cause, plus MCA712 when an intermediate is missing."""
    top = _partial_path(ca, chain)[-1]
    issuer_name = certs.name_string(top.cert.issuer)
    evidence = ["ca-cert issuer: " + certs.name_string(ca.cert.issuer)]
    if top is not ca:
        evidence.append(f"cert-chain leads from ca-cert up to {top.subject} (sha256 {top.fingerprint})")
    evidence += [f"root-cert certificate {ref.index}: {ref.subject} sha256 {ref.fingerprint} did not sign {top.subject}"
                 for ref in roots]
    same_name_roots = [ref for ref in roots if ref.cert.subject == top.cert.issuer]
    top_is_root = certs.is_self_signed(top.cert)
    if top_is_root:
        evidence.append(f"cert-chain ends in root sha256 {top.fingerprint} which root-cert does not hold")
    elif same_name_roots:
        evidence.append(f"root-cert holds a root named '{issuer_name}' but with another key: a root of the "
                        "same name from a different CA set")
    evidence.append(_istiod(ISTIOD_UNKNOWN_AUTHORITY))
    findings = [finding("MCA710", CA_CERT, evidence=evidence, subject=ca.subject)]
    if not top_is_root and not same_name_roots:
        findings.append(finding(
            "MCA712", CERT_CHAIN,
            evidence=["no certificate in cert-chain or root-cert signed " + top.subject,
                      _envoy(MESH_UNKNOWN_CA)],
            missing=f"the issuer of {top.subject} ({issuer_name})"))
    return findings


def _check_chain_start(ca, chain):
    """istio's layout starts cert-chain with ca-cert. Its order breaks no verifier (a warning); whether
    ca-cert is in it at all says whether this explains the agent's refusal (MCA736, an error)."""
    if not chain or chain[0].fingerprint == ca.fingerprint:
        return []
    positions = [index for index, ref in enumerate(chain, 1) if ref.fingerprint == ca.fingerprint]
    where = (f"ca-cert is certificate {positions[0]} of cert-chain" if positions else
             "ca-cert is missing from it (not a matter of order: other findings say what that breaks)")
    return [finding("MCA711", CERT_CHAIN,
                    evidence=[f"cert-chain certificate 1: {chain[0].subject} sha256 {chain[0].fingerprint}",
                              "ca-cert sha256 " + ca.fingerprint, where],
                    subject=chain[0].subject, where=where)]


def _check_chain_order(ca, chain, path):
    """The path's intermediates must follow ca-cert in cert-chain, in issuing order."""
    expected = [ref.fingerprint for ref in path[1:-1]]
    rest = [ref for ref in chain if ref.fingerprint != ca.fingerprint]
    if [ref.fingerprint for ref in rest[:len(expected)]] == expected:
        return []
    order = " -> ".join(ref.subject for ref in chain)
    return [finding("MCA713", CERT_CHAIN,
                    evidence=["expected after ca-cert: " + " -> ".join(
                        ref.subject for ref in path[1:-1])],
                    order=order)]


def _above_anchor(chain, anchor):
    """Fingerprints of cert-chain's certificates that continue the path above its anchor up to
    a self-signed one in cert-chain (certs.build_path, names and signatures as Go checks them):
    when root-cert holds an intermediate (MCA701), the root that issued it, in cert-chain, is
    the rest of the path, not an unrelated certificate."""
    tops = [ref.cert for ref in chain if certs.is_self_signed(ref.cert)]
    above = certs.build_path(anchor.cert, [ref.cert for ref in chain], tops) if tops else None
    return {certs.fingerprint(cert) for cert in (above or [])[1:]}


def _check_chain_extras(chain, roots, path):
    """Certificates in cert-chain that are neither on the path, above its anchor, nor a root in root-cert."""
    known = ({ref.fingerprint for ref in path} | {ref.fingerprint for ref in roots}
             | _above_anchor(chain, path[-1]))
    extras = [ref for ref in chain if ref.fingerprint not in known]
    if not extras:
        return []
    return [finding("MCA714", CERT_CHAIN,
                    evidence=[f"cert-chain certificate {ref.index}: {ref.subject} sha256 {ref.fingerprint}"
                              for ref in extras],
                    count=len(extras), subjects="; ".join(ref.subject for ref in extras))]


def _check_path_lengths(path):
    """Each CA above ca-cert must allow the CAs below it plus the workload leaf.

    For the certificate at position j above ca-cert (ca-cert is 0), a workload
    chain has j intermediate CAs below it, so pathlen must be >= j. When
    pathlen < j - 1 even istiod's own load-time check of ca-cert fails.
    """
    findings = []
    for position, ref in enumerate(path[1:], start=1):
        _, path_length = certs.basic_constraints(ref.cert)
        if path_length is None or path_length >= position:
            continue
        if path_length < position - 1:
            # i21ssl: BoringSSL's check_chain_extensions never checks the trust anchor's pathlen
            # (rules/consumers/envoy.py verify_path), so a root's pathlen breaks istiod only.
            evidence, breaks = [_istiod(ISTIOD_PATHLEN)], ISTIOD if ref is path[-1] else BOTH
        elif ref is path[-1]:
            # BoringSSL's check_chain_extensions skips the trust anchor, but the Go
            # istio-agent verifies istiod's serving chain [istiod, ca-cert, ..., root].
            evidence = ["istiod loads the CA; Envoy does not check a trust anchor's pathlen, but "
                        "istio-agent (Go) refuses istiod's serving chain: " + ISTIOD_PATHLEN]
            breaks = ENVOY
        else:
            evidence = ["istiod loads the CA, but workload chains are refused",
                        _envoy(MESH_VERIFY_FAILED)]
            breaks = ENVOY
        item = finding(
            "MCA715", ref.object, evidence=[f"pathlen:{path_length} with {position} CA certificate(s) below"]
            + evidence,
            subject=ref.subject, pathlen=path_length, below=position)
        item["breaks"] = breaks
        findings.append(item)
    return findings


def _check_intermediates(intermediates):
    """Intermediates in cert-chain must be CAs with keyCertSign too."""
    findings = []
    for ref in intermediates:
        findings += _signing_ca_findings(ref, CERT_CHAIN, "MCA722", "MCA716")
    return findings


# --------------------------------------------------------------------------- expiry

def _expiry_finding(ref, now, warn_days):
    """MCA717/721/718 for one certificate, or None when it is comfortably valid."""
    cert = ref.cert
    not_after = certs.iso_utc(cert.not_valid_after_utc)
    if now < cert.not_valid_before_utc:
        return finding("MCA721", ref.object, evidence=[_istiod(ISTIOD_EXPIRED)], index=ref.index,
                       subject=ref.subject, not_before=certs.iso_utc(cert.not_valid_before_utc))
    if now > cert.not_valid_after_utc:
        return finding("MCA717", ref.object, evidence=[_istiod(ISTIOD_EXPIRED)], index=ref.index,
                       subject=ref.subject, not_after=not_after)
    days = certs.days_left(cert, now)
    if days <= warn_days:
        return finding("MCA718", ref.object, evidence=[f"daysLeft: {days}"],
                       index=ref.index, subject=ref.subject, not_after=not_after,
                       days_left=days, warn_days=warn_days)
    return None


def _unused_expired(ref, now, used):
    """MCA734 for a cert-chain certificate on no path that has expired (Go and BoringSSL pick the
    valid issuer, and minTTL reads only the first block), else None."""
    if used is None or ref.object != CERT_CHAIN or ref.fingerprint in used or now <= ref.cert.not_valid_after_utc:
        return None
    return finding("MCA734", CERT_CHAIN, evidence=[f"cert-chain certificate {ref.index}: sha256 {ref.fingerprint}"],
                   index=ref.index, subject=ref.subject, not_after=certs.iso_utc(ref.cert.not_valid_after_utc))


def _check_expiry(refs, now, warn_days, used=None):
    """Expired/not-yet-valid = error, close = warning, else one info for the soonest.
    ``used``: fingerprints on ca-cert's path and cert-chain's head; other expired cert-chain entries warn."""
    findings = [_unused_expired(ref, now, used) or _expiry_finding(ref, now, warn_days) for ref in refs]
    findings = [item for item in findings if item]
    if findings or not refs:
        return findings
    soonest = min(refs, key=lambda ref: ref.cert.not_valid_after_utc)
    return [finding("MCA719", soonest.object, subject=soonest.subject,
                    not_after=certs.iso_utc(soonest.cert.not_valid_after_utc),
                    days_left=certs.days_left(soonest.cert, now))]


def _check_root_outlives_ca(ca, path):
    """A root that dies before ca-cert takes the mesh down at the earlier date."""
    root = path[-1]
    root_deadline = root.cert.not_valid_after_utc + ROOT_EXPIRY_TOLERANCE
    if root is ca or root_deadline >= ca.cert.not_valid_after_utc:
        return []
    return [finding("MCA720", root.object, subject=root.subject,
                    root_not_after=certs.iso_utc(root.cert.not_valid_after_utc),
                    ca_not_after=certs.iso_utc(ca.cert.not_valid_after_utc))]


# --------------------------------------------------------------------------- the parsed set

def _aware_now(now):
    if now.tzinfo is None:
        return now.replace(tzinfo=datetime.timezone.utc)
    return now


class CaSet:  # pylint: disable=too-many-instance-attributes  # each attribute is one input the rules read
    """A plug-in CA set parsed once: what every certificate rule reads.

    ``parsed`` holds the objects that parsed (the CA_SET inputs rules declare), and
    ``format_findings`` the MCA6xx findings of the ones that did not (a missing
    object named in ``unread`` was not read at all, so it is not called missing:
    the caller already says why).
    """

    def __init__(self, objects, sources=None, unread=()):
        findings = []
        self.objects = dict(objects)
        self.ca_cert_source = _source(sources, CA_CERT)
        self.raw = {name: objects.get(name) for name in (ROOT_CERT, CERT_CHAIN)}  # Envoy reads the bytes (MCA760)
        self.ca_cert_first_block = certs.first_block_label(objects.get(CA_CERT)) \
            if isinstance(objects.get(CA_CERT), (bytes, str)) else None
        bundles = {name: _parse_cert_object(name, objects.get(name), _source(sources, name), findings)
                   for name in CERTIFICATE_OBJECTS}
        self.key = _parse_key_object(objects.get(CA_KEY), _source(sources, CA_KEY), findings)
        self.format_findings = [item for item in findings
                                if not (item["code"] == "MCA601" and item["object"] in unread)]
        self.refs_by_object = {name: _refs(name, bundles[name]) for name in CERTIFICATE_OBJECTS}
        self.parsed = {name for name in CERTIFICATE_OBJECTS if bundles[name] is not None}
        if self.key is not None:
            self.parsed.add(CA_KEY)
        self.unique = _unique(self.refs_by_object)
        self.roots = self.refs_by_object[ROOT_CERT]
        self.chain = self.refs_by_object[CERT_CHAIN]
        self.ca = self.refs_by_object[CA_CERT][0] if self.refs_by_object[CA_CERT] else None
        if self.ca is None:
            self.parsed.discard(CA_CERT)
        self.path = self._path()
        self.startup = None  # set by check_istiod_startup when it runs

    def _path(self):
        """ca-cert's signature path to a root in root-cert, as refs, or None."""
        if self.ca is None or ROOT_CERT not in self.parsed:
            return None
        path_certs = certs.build_path(self.ca.cert, [ref.cert for ref in self.chain],
                                      [ref.cert for ref in self.roots])
        if path_certs is None:
            return None
        # Prefer root-cert over its copy in cert-chain, so findings name the trust anchor.
        by_fingerprint = {ref.fingerprint: ref for ref in list(self.chain) + list(self.roots)}
        by_fingerprint[self.ca.fingerprint] = self.ca
        return [by_fingerprint[certs.fingerprint(cert)] for cert in path_certs]

    def verified(self):
        """(the certificates istiod verifies from ca-cert up, the intermediates among them)."""
        if self.path is not None:
            return self.path, self.path[1:-1]
        intermediates = [ref for ref in self.chain if ref.fingerprint != self.ca.fingerprint
                         and not certs.is_self_signed(ref.cert)]
        return [self.ca] + intermediates, intermediates

    def certificates(self, now):
        return _certificate_rows(self.refs_by_object, _aware_now(now))


# --------------------------------------------------------------------------- the certificate rules

@rule("MCA601", "MCA602", "MCA603", "MCA604", "MCA605", "MCA606", "MCA607", "MCA608", "MCA609",
      "MCA610", subject=CA_SET)
def check_object_formats(ca_set, _context):
    """Each object present and well-formed (codes: the catalog's CERT_FORMAT and KEY_FORMAT kinds)."""
    return list(ca_set.format_findings)


@rule("MCA614", inputs=(CA_CERT,), subject=CA_SET)
def check_ca_cert_first_block(ca_set, _context):
    """istiod signs with ca-cert.pem's first PEM block whatever it holds (ParsePemEncodedCertificate)."""
    return _check_ca_cert_first_block(ca_set.ca_cert_first_block, ca_set.ca_cert_source)


@rule("MCA701", "MCA702", "MCA703", inputs=(ROOT_CERT,), subject=CA_SET)
def check_root_certs(ca_set, _context):
    """Every certificate in root-cert should be a self-signed CA (one that is not is a warning: Go and
    Envoy trust it as an anchor); several roots mean a root rotation."""
    return _check_roots(ca_set.roots)


@rule("MCA704", "MCA705", inputs=(CA_CERT,), subject=CA_SET)
def check_ca_cert_signs(ca_set, _context):
    """ca-cert must be a CA (basicConstraints CA:true, which Go requires of an issuer) with keyCertSign
    in its keyUsage (which Envoy/BoringSSL requires)."""
    return _check_ca_cert(ca_set.ca)


@rule("MCA709", inputs=(CA_CERT, CA_KEY), subject=CA_SET)
def check_key_matches(ca_set, _context):
    """ca-key's public half must be ca-cert's public key (istiod's tls.X509KeyPair check)."""
    return _check_key_match(ca_set.ca, ca_set.key)


@rule("MCA711", inputs=(CA_CERT, CERT_CHAIN), subject=CA_SET)
def check_chain_starts_with_ca_cert(ca_set, _context):
    """cert-chain's first certificate should be ca-cert (compared by SHA-256 fingerprint): a
    warning, since Go and BoringSSL find the path in any order."""
    return _check_chain_start(ca_set.ca, ca_set.chain)


@rule("MCA710", "MCA712", inputs=(CA_CERT, ROOT_CERT, CERT_CHAIN), subject=CA_SET)
def check_chains_to_root(ca_set, _context):
    """ca-cert must verify, by signature (never by name), through cert-chain to a root in
    root-cert. Without cert-chain the verdict would be a guess, so it is an input."""
    if ca_set.path is not None:
        return []
    return _unknown_authority_findings(ca_set.ca, ca_set.chain, ca_set.roots)


@rule("MCA713", inputs=(CA_CERT, ROOT_CERT, CERT_CHAIN), subject=CA_SET)
def check_chain_order(ca_set, _context):
    """After ca-cert, cert-chain should hold the path's intermediates in issuing order (a warning:
    order breaks neither verifier)."""
    if ca_set.path is None:
        return []
    return _check_chain_order(ca_set.ca, ca_set.chain, ca_set.path)


@rule("MCA714", inputs=(CA_CERT, ROOT_CERT, CERT_CHAIN), subject=CA_SET)
def check_chain_extras(ca_set, _context):
    """cert-chain should hold nothing that is neither on the path to the root nor a root in root-cert."""
    if ca_set.path is None:
        return []
    return _check_chain_extras(ca_set.chain, ca_set.roots, ca_set.path)


@rule("MCA715", inputs=(CA_CERT, ROOT_CERT), subject=CA_SET)
def check_path_lengths(ca_set, _context):
    """Each CA above ca-cert must allow, by pathlen, the CAs below it plus the workload leaf."""
    if ca_set.path is None:
        return []
    return _check_path_lengths(ca_set.path)


@rule("MCA706", inputs=(CA_CERT,), subject=CA_SET)
def check_extended_key_usage(ca_set, _context):
    """Over the certificates istiod verifies from ca-cert up."""
    verified, _ = ca_set.verified()
    anchor = ca_set.path[-1] if ca_set.path is not None else None
    return _check_extended_key_usage(verified, anchor)


@rule("MCA723", inputs=(CA_CERT,), subject=CA_SET)
def check_envoy_purposes(ca_set, _context):
    """ca-cert and the intermediates above it: the untrusted CAs Envoy checks (rules/consumers/envoy.py)."""
    _, intermediates = ca_set.verified()
    return _check_envoy_purposes([ca_set.ca] + list(intermediates))


@rule("MCA707", inputs=(CA_CERT,), subject=CA_SET)
def check_signature_hashes(ca_set, _context):
    """Over the issued (not self-signed) certificates istiod verifies."""
    verified, _ = ca_set.verified()
    return _check_signature_hashes([ref for ref in verified if not certs.is_self_signed(ref.cert)])


@rule("MCA716", "MCA722", inputs=(CA_CERT,), subject=CA_SET)
def check_intermediates(ca_set, _context):
    """Intermediates between ca-cert and the root must be CAs with keyCertSign, as ca-cert must."""
    _, intermediates = ca_set.verified()
    return _check_intermediates(intermediates)


@rule("MCA708", subject=CA_SET)
def check_key_strength(ca_set, _context):
    """Each distinct certificate's key must be at least RSA-2048 or P-256."""
    return _check_key_strength(ca_set.unique)


@rule("MCA717", "MCA718", "MCA719", "MCA721", "MCA734", subject=CA_SET)
def check_expiry(ca_set, context):
    """Expired or not yet valid is an error, within --warn-days a warning; otherwise one info
    names the first certificate to expire."""
    used = None
    if ca_set.path is not None:
        used = {ref.fingerprint for ref in ca_set.path} | {ref.fingerprint for ref in ca_set.chain[:1]}
    return _check_expiry(ca_set.unique, _aware_now(context["now"]), context["warn_days"], used)


@rule("MCA720", inputs=(CA_CERT, ROOT_CERT), subject=CA_SET)
def check_root_outlives_ca(ca_set, _context):
    """The root must not expire (by more than a day) before ca-cert: the mesh breaks at the earlier date."""
    if ca_set.path is None:
        return []
    return _check_root_outlives_ca(ca_set.ca, ca_set.path)


# A private key's BEGIN line anywhere in a text (RFC 7468 labels: PRIVATE KEY, RSA/EC PRIVATE KEY, ...).
_KEY_BEGIN = re.compile(rb"-----BEGIN ([A-Z0-9 ]{0,64}PRIVATE KEY)-----")


@rule("MCA732", inputs=(ROOT_CERT,), subject=CA_SET)
def check_root_cert_holds_no_key(ca_set, _context):
    """root-cert goes as it is into every namespace's istio-ca-root-cert: a key in it is published
    (istio 1.30.3 pilot/pkg/bootstrap/certcontroller.go: caBundle = GetRootCertPem(), the bytes as
    read; pilot/pkg/serviceregistry/kube/controller/namespacecontroller.go writes GetCABundle()).
    What is published is the bytes, not what a PEM reader yields: a key block Go's pem.Decode would
    skip (text before BEGIN, broken base64) is published all the same, so the text is searched."""
    text = certs._as_bytes(ca_set.objects.get(ROOT_CERT))  # pylint: disable=protected-access
    labels = sorted({label.decode("ascii") for label in _KEY_BEGIN.findall(text)})
    return [finding("MCA732", ROOT_CERT, evidence=[f"PEM block {label}" for label in labels], label=label)
            for label in labels[:1]]


def _claims(findings, consumers):
    return [item for item in findings if item["severity"] == "error" and item.get("breaks") in consumers]


def _agent(text):
    return "istio-agent: " + text


def _startup_finding(code, refusal, consumer, go):
    """The finding for one refusal of istiod's start-up (consumer ISTIOD) or of the agent (ENVOY)."""
    evidence = [(_istiod if consumer == ISTIOD else _agent)(refusal.text)]
    item = finding(code, refusal.object or CA_CERT, evidence=evidence, text=refusal.text,
                   go=".".join(str(part) for part in go), istiod_name=istiod.ISTIOD_DNS_NAME)
    item["breaks"] = consumer
    item["startup"] = consumer  # which step of startup() this stands for (reconcile_with_startup)
    return item


@rule("MCA724", "MCA725", "MCA726", "MCA727", "MCA728", "MCA729", "MCA730", "MCA731", "MCA733",
      "MCA735", "MCA736", inputs=(ROOT_CERT, CA_CERT, CA_KEY, CERT_CHAIN), subject=CA_SET)
def check_istiod_startup(ca_set, context):
    """istiod's whole start-up path and the agent's check of its serving chain (rules/consumers/istiod.py
    ``startup``, Go's rules as of the revision's Go release): the one judgement of what istiod
    accepts. A refusal of a class no other rule explains gets its own code; any other refusal
    MCA735 (istiod) or MCA736 (agent), which reconcile_with_startup drops when another finding explains it."""
    go = context.get("go", istiod.NEWEST_GO)
    startup = istiod.startup(ca_set.objects, context["now"], go)
    ca_set.startup = startup  # for reconcile_with_startup: the judgement was made
    if startup["istiod"] is not None:
        refusal = startup["istiod"]
        return [_startup_finding(code_for(STARTUP_REFUSAL, refusal.kind) or "MCA735", refusal, ISTIOD, go)]
    if startup["agent"] is not None:
        refusal = startup["agent"]
        return [_startup_finding(code_for(STARTUP_REFUSAL, refusal.kind) or "MCA736", refusal, ENVOY, go)]
    return []


def reconcile_with_startup(findings, ca_set):
    """Make the other findings agree with check_istiod_startup, the one judgement of istiod.

    Its catch-all finding (a refusal of a class another rule explains) goes when another error
    already blames that consumer. When istiod starts (no istiod-step finding), findings that blame
    istiod are wrong about it: ``both`` becomes ``envoy``, and an ``istiod`` error becomes a
    warning that names no consumer.
    """
    others = [item for item in findings if "startup" not in item]
    startup = getattr(ca_set, "startup", None)
    if startup is not None and startup["istiod"] is None:
        for item in _claims(others, (ISTIOD, BOTH)):
            if item["breaks"] == BOTH:
                item["breaks"] = ENVOY
            else:
                del item["breaks"]
                item["severity"] = "warning"
            item["evidence"].append("istiod's start-up path accepts this set (rules/consumers/istiod.py startup)")
    # MCA760 is Envoy's own catch-all: it explains no start-up refusal. When the istio-agent refuses
    # istiod's serving chain, sidecars get no certificate at all, so no workload chain reaches Envoy:
    # the agent's finding is the failure users meet, and MCA760 goes.
    explaining = [item for item in others if item["code"] != "MCA760"]
    kept = []
    for item in findings:
        step = item.pop("startup", None)
        generic = item["code"] in ("MCA735", "MCA736")
        if generic and _claims(explaining, (ISTIOD, BOTH) if step == ISTIOD else (ENVOY, BOTH)):
            continue
        kept.append((item, step))
    agent_refuses = any(step == ENVOY for _, step in kept)
    return [item for item, _ in kept if not (agent_refuses and item["code"] == "MCA760")]


# --- i21ssl hook: Envoy's own refusals (rules/consumers/envoy.py is the Envoy judgement) ---
@rule("MCA760", inputs=(CA_CERT, ROOT_CERT), subject=CA_SET)
def check_envoy_workload_chain(ca_set, context):
    """What Envoy refuses in the workload chain that no other certificate rule names.

    Runs only where istiod's path exists (else MCA710/MCA712 say it) and cert-chain is
    present (a missing one is MCA601; an empty one is judged); reasons other rules report
    (expiry, CA flags, key usage, EKU, pathlen, MD5) are left to them."""
    if ca_set.path is None or ca_set.raw[CERT_CHAIN] is None:
        return []
    reasons = envoy.envoy_only(envoy.workload_refusals(
        ca_set.raw[ROOT_CERT], ca_set.raw[CERT_CHAIN], ca_set.ca.cert, _aware_now(context["now"])))
    if not reasons:
        return []
    item = finding("MCA760", CERT_CHAIN, evidence=[_envoy(text) for text in reasons], reason=reasons[0])
    item["breaks"] = ENVOY
    return [item]


# In the order findings come out: formats, roots, ca-cert and its relations, the path,
# key strength, expiry. checks.ALL_CHECKS holds these too (the one registry).
CERTIFICATE_RULES = (
    check_object_formats, check_ca_cert_first_block, check_root_certs, check_ca_cert_signs,
    check_key_matches, check_chain_starts_with_ca_cert, check_chains_to_root, check_chain_order,
    check_chain_extras, check_path_lengths, check_extended_key_usage, check_envoy_purposes,
    check_signature_hashes, check_intermediates,
    check_key_strength, check_expiry, check_root_outlives_ca, check_root_cert_holds_no_key,
    check_envoy_workload_chain, check_istiod_startup)


class ShownSet:  # pylint: disable=too-few-public-methods  # a record: what show-cert's rules read
    """The certificates show-cert was given (any named PEM objects: a file, the plug-in
    set's certificates, the cluster's istio-ca-root-cert), parsed once. Not a plug-in set:
    an object absent from it is not called missing."""

    parsed = frozenset()  # SHOWN rules declare no inputs: every object given is judged

    def __init__(self, objects, sources=None):
        self.format_findings = []
        self.refs_by_object = {}
        for name, data in objects.items():
            bundle = _parse_cert_object(name, data, _source(sources, name), self.format_findings)
            self.refs_by_object[name] = _refs(name, bundle)
        self.unique = _unique(self.refs_by_object)

    @classmethod
    def from_snapshot(cls, snapshot):
        """The snapshot's ``shown`` slot (sources/certsets.py shown_snapshot), or None."""
        shown = snapshot.get("shown")
        if shown is None:
            return None
        return cls(dict(shown["objects"]), dict(shown["where"]))

    def certificates(self, now):
        return _certificate_rows(self.refs_by_object, _aware_now(now))


@rule("MCA601", "MCA602", "MCA603", "MCA604", "MCA605", "MCA606", "MCA608", "MCA610", "MCA717", "MCA718",
      "MCA719", "MCA721", subject=SHOWN)
def check_shown_certificates(shown, context):
    """show-cert: each object given parses as certificates, and none is expired, not yet valid
    or close to expiry (one info names the first to expire otherwise)."""
    return list(shown.format_findings) + _check_expiry(shown.unique, _aware_now(context["now"]),
                                                       context["warn_days"])


SHOWN_RULES = (check_shown_certificates,)
