package health

import "github.com/gslbd/gslbd/config"

// checkProbe reports the first problem that makes p unusable to a prober.
func checkProbe(p *config.Probe) error {
	_, err := NewProber(p, nil)
	return err
}

// checkReadiness reports the first problem that makes r unusable to a
// lag source.
func checkReadiness(r *config.Readiness) error {
	s, err := NewLagSource(r, nil)
	if err == nil {
		_ = s.Close()
	}
	return err
}
