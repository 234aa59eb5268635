package cluster

import (
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/gslbd/gslbd/config"
)

// keyLen is the size of the AES-256 keys the tests make.
const keyLen = 32

// resolved fills in what config.Prepare derives for a cluster section
// (the decoded keys, the parsed quorum rule), for tests that build one
// as a literal. Tests only write valid values.
func resolved(c config.Cluster) config.Cluster {
	c.Secrets = nil
	for _, k := range c.Keys {
		if b, err := base64.StdEncoding.DecodeString(k); err == nil {
			c.Secrets = append(c.Secrets, b)
		}
	}
	switch q := strings.ToLower(c.Quorum); q {
	case "", "majority":
		c.Rule = config.QuorumRule{Kind: "majority"}
	case "any", "all":
		c.Rule = config.QuorumRule{Kind: q}
	default:
		f, _ := strconv.ParseFloat(q, 64)
		c.Rule = config.QuorumRule{Kind: "fraction", Fraction: f}
	}
	return c
}
