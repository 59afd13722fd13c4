module meshca.test/istiodload

// The go line sets the GODEBUG defaults (x509negativeserial, rsa1024min...) to Go 1.25's, as
// istio 1.30's go.mod does; without a go.mod (GOPATH mode) Go would assume go 1.20's defaults.
go 1.25
