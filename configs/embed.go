package configs

import _ "embed"

// Dev is dev.yaml: a solo node serving gslb.test. on 127.0.0.1:5353 with
// three simulated regions. Callers must not modify it.
//
//go:embed dev.yaml
var Dev []byte
