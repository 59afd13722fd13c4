// Command istiodload performs istiod's plug-in CA start-up path on a directory holding
// root-cert.pem, ca-cert.pem, ca-key.pem and cert-chain.pem, with Go's own standard library,
// and prints one JSON object: {"istiod": "", "agent": ""}, each an error text or "" (accepted).
//
// Written for meshca's differential test (tests/differential/test_go_istiod.py) from reading
// istio/istio 1.30.3 (commit 56df41f63e513f834c9a3af33d8aed82d1d961f2); no istio code is copied:
//
//   - pilot/pkg/bootstrap/istio_ca.go: from 1.26.1 all four files are required;
//   - security/pkg/pki/util/keycertbundle.go Verify: CertPool.AppendCertsFromPEM of root-cert and
//     cert-chain, ParsePemEncodedCertificate(ca-cert), cert.Verify, ParsePemEncodedKey(ca-key),
//     tls.X509KeyPair(ca-cert, ca-key);
//   - security/pkg/pki/ca/ca.go NewPluggedCertIstioCAOptions (ca-cert must be a CA),
//     NewIstioCA / minTTL (cert-chain's first block gives the workload TTL cap),
//     GenKeyCert / genCertTemplateFromCSR (the DNS serving certificate istiod signs for itself,
//     pilot/pkg/bootstrap/certcontroller.go initDNSCerts);
//   - the istio-agent then verifies that serving chain [istiod cert + cert-chain] against
//     root-cert as crypto/tls's client does (ParseCertificate of every certificate the server
//     sent, then Verify with DNSName and the rest as intermediates).
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// istiod's own DNS name in the AKS add-on (deployment istiod-<revision>, namespace aks-istio-system).
const istiodName = "istiod-asm-1-30.aks-istio-system.svc"

// The default workload certificate TTL (istio pilot/pkg/features DefaultWorkloadCertTTL, 24h).
const defaultCertTTL = 24 * time.Hour

type files struct{ root, cert, key, chain []byte }

func read(dir string) (files, error) {
	var f files
	targets := []struct {
		name string
		dst  *[]byte
	}{{"root-cert.pem", &f.root}, {"ca-cert.pem", &f.cert}, {"ca-key.pem", &f.key}, {"cert-chain.pem", &f.chain}}
	for _, t := range targets {
		b, err := os.ReadFile(filepath.Join(dir, t.name))
		if err != nil {
			return f, errors.New("failed to create an istiod CA: incomplete signing CA bundle detected")
		}
		*t.dst = b
	}
	return f, nil
}

// parseFirstCertificate is ParsePemEncodedCertificate: the first PEM block, whatever its type.
func parseFirstCertificate(b []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("invalid PEM encoded certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, errors.New("failed to parse X.509 certificate")
	}
	return c, nil
}

// parseKey is ParsePemEncodedKey: the first PEM block; the parser is chosen by its label.
func parseKey(b []byte) (crypto.PrivateKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, errors.New("invalid PEM-encoded key")
	}
	switch block.Type {
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		return x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	return nil, fmt.Errorf("unsupported PEM block type for a private key: %s", block.Type)
}

func verify(f files, now time.Time) (*x509.Certificate, crypto.PrivateKey, error) {
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(f.root)
	intermediates := x509.NewCertPool()
	intermediates.AppendCertsFromPEM(f.chain)
	cert, err := parseFirstCertificate(f.cert)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to parse cert PEM: %v", err)
	}
	chains, err := cert.Verify(x509.VerifyOptions{Intermediates: intermediates, Roots: roots, CurrentTime: now})
	if len(chains) == 0 || err != nil {
		return nil, nil, fmt.Errorf("cannot verify the cert with the provided root chain and cert pool with error: %v", err)
	}
	key, err := parseKey(f.key)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to parse private key PEM: %v", err)
	}
	if _, err := tls.X509KeyPair(f.cert, f.key); err != nil {
		return nil, nil, fmt.Errorf("the cert does not match the key: %v", err)
	}
	if !cert.IsCA {
		return nil, nil, errors.New("certificate is not authorized to sign other certificates")
	}
	return cert, key, nil
}

// minTTL: an empty cert-chain leaves the default; otherwise its first block must be a
// certificate that has not expired.
func minTTL(chain []byte, now time.Time) error {
	if len(chain) == 0 {
		return nil
	}
	first, err := parseFirstCertificate(chain)
	if err != nil {
		return fmt.Errorf("failed to get default cert TTL failed to get cert chain TTL %v", err)
	}
	if first.NotAfter.Sub(now) <= 0 {
		return errors.New("failed to get default cert TTL cert chain has expired")
	}
	return nil
}

// servingCert signs istiod's DNS certificate with the CA, as GenKeyCert does: a key of the CA
// key's kind (EC P-256, or P-384 for a P-384 CA; otherwise RSA 2048), digitalSignature and
// keyEncipherment, serverAuth and clientAuth, valid from now - 2 minutes to the CA's notAfter at most.
func servingCert(ca *x509.Certificate, caKey crypto.PrivateKey, now time.Time) ([]byte, error) {
	var pub crypto.PublicKey
	if ecKey, ok := caKey.(*ecdsa.PrivateKey); ok && ecKey.Curve == elliptic.P384() {
		k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		pub = k.Public()
	} else if ok {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub = k.Public()
	} else {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		pub = k.Public()
	}
	if !now.Before(ca.NotAfter) {
		return nil, fmt.Errorf("signing certificate has expired at %v", ca.NotAfter)
	}
	notAfter := now.Add(10 * 365 * 24 * time.Hour)
	if !notAfter.Before(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	template := &x509.Certificate{
		SerialNumber:          serial,
		NotBefore:             now.Add(-2 * time.Minute),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{istiodName},
	}
	signer, ok := caKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("x509: certificate private key does not implement crypto.Signer")
	}
	return x509.CreateCertificate(rand.Reader, template, ca, pub, signer)
}

// agent verifies istiod's serving chain as crypto/tls's client does.
func agent(leaf []byte, f files, now time.Time) error {
	presented := [][]byte{leaf}
	for rest := f.chain; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" { // tls.X509KeyPair keeps CERTIFICATE blocks only
			presented = append(presented, block.Bytes)
		}
	}
	parsed := make([]*x509.Certificate, 0, len(presented))
	for _, der := range presented {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("tls: failed to parse certificate from server: %v", err)
		}
		parsed = append(parsed, c)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(f.root) {
		return errors.New("failed to add root certificates: no certificate in root-cert")
	}
	intermediates := x509.NewCertPool()
	for _, c := range parsed[1:] {
		intermediates.AddCert(c)
	}
	_, err := parsed[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: intermediates, DNSName: istiodName,
		CurrentTime: now})
	if err != nil {
		return fmt.Errorf("tls: failed to verify certificate: %v", err)
	}
	return nil
}

func run(dir string, now time.Time) (istiod, agentError string) {
	f, err := read(dir)
	if err != nil {
		return err.Error(), ""
	}
	cert, key, err := verify(f, now)
	if err != nil {
		return fmt.Sprintf("failed to create CA KeyCertBundle (%v)", err), ""
	}
	if err := minTTL(f.chain, now); err != nil {
		return err.Error(), ""
	}
	leaf, err := servingCert(cert, key, now)
	if err != nil {
		return fmt.Sprintf("failed to create istiod DNS certificate: %v", err), ""
	}
	if err := agent(leaf, f, now); err != nil {
		return "", err.Error()
	}
	return "", ""
}

// pemBlocks prints every block encoding/pem's Decode yields from a file, in order, as the loop in
// CertPool.AppendCertsFromPEM and tls.X509KeyPair runs it: for meshca's port of Decode.
func pemBlocks(path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	type row struct {
		Type    string            `json:"type"`
		Headers map[string]string `json:"headers"`
		Bytes   []byte            `json:"bytes"`
	}
	rows := []row{}
	for rest := data; len(rest) > 0; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		rows = append(rows, row{block.Type, block.Headers, block.Bytes})
	}
	_ = json.NewEncoder(os.Stdout).Encode(rows)
}

func main() {
	at := flag.String("now", "", "RFC 3339 time to judge at (default: now)")
	pemFile := flag.String("pem", "", "print the PEM blocks Go decodes from this file, and nothing else")
	flag.Parse()
	if *pemFile != "" {
		pemBlocks(*pemFile)
		return
	}
	now := time.Now()
	if *at != "" {
		parsed, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bad -now:", err)
			os.Exit(2)
		}
		now = parsed
	}
	out := json.NewEncoder(os.Stdout)
	for _, dir := range flag.Args() {
		istiod, agentError := run(dir, now)
		_ = out.Encode(map[string]string{"dir": dir, "istiod": istiod, "agent": agentError})
	}
}
