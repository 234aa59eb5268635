package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealCountryDatabaseVerifies: the real-world country database has an
// empty description map, which maxminddb's Verify refuses; it must still
// load, and a damaged copy of it must still be refused.
func TestRealCountryDatabaseVerifies(t *testing.T) {
	path := "../geo/testdata/geo-whois-asn-country.mmdb"
	if _, err := readDatabase(path); err != nil {
		t.Fatalf("real-world country database refused: %v", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Overwrite a stretch of the search tree: node pointers then lead
	// outside the tree or the data section.
	for i := len(data) / 8; i < len(data)/8+64<<10; i++ {
		data[i] = 0xff
	}
	bad := filepath.Join(t.TempDir(), "damaged.mmdb")
	if err := os.WriteFile(bad, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = readDatabase(bad)
	if err == nil || !strings.Contains(err.Error(), "fails verification") {
		t.Fatalf("damaged copy: %v, want a verification error", err)
	}
}
