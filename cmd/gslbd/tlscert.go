package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/gslbd/gslbd/config"
)

// certCheckEvery bounds how often a handshake looks at the files.
const certCheckEvery = time.Second

// certSource serves the HTTP listener's certificate. It follows the
// current config's listen.http_tls files: after a reload that names new
// files, or when the files are replaced (a renewal), the next handshake
// loads them. A pair that fails to load is logged and the previous one
// stays in use.
type certSource struct {
	files func() config.TLSFiles
	log   *zap.Logger

	mu        sync.Mutex
	stamp     string
	cert      *tls.Certificate
	checkedAt time.Time
}

func newCertSource(files func() config.TLSFiles, log *zap.Logger) (*certSource, error) {
	c := &certSource{files: files, log: log}
	if err := c.refresh(time.Now()); err != nil {
		return nil, err
	}
	return c, nil
}

// fileStamp identifies the files' current contents well enough to notice a
// replacement: names, sizes and modification times.
func fileStamp(f config.TLSFiles) string {
	s := f.CertFile + "|" + f.KeyFile
	for _, p := range []string{f.CertFile, f.KeyFile} {
		if st, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("|%d:%d", st.Size(), st.ModTime().UnixNano())
		}
	}
	return s
}

func (c *certSource) refresh(now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert != nil && now.Sub(c.checkedAt) < certCheckEvery {
		return nil
	}
	c.checkedAt = now
	f := c.files()
	stamp := fileStamp(f)
	if c.cert != nil && stamp == c.stamp {
		return nil
	}
	if f.CertFile == "" || f.KeyFile == "" {
		if c.cert == nil {
			return errors.New("listen.http_tls: no certificate configured")
		}
		return nil // turning TLS off needs a restart; keep serving TLS
	}
	cert, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil {
		if c.cert == nil {
			return fmt.Errorf("listen.http_tls: %w", err)
		}
		c.log.Error("cannot load the HTTP certificate; the previous one stays in use",
			zap.String("cert_file", f.CertFile), zap.String("key_file", f.KeyFile), zap.Error(err))
		c.stamp = stamp // retried when the files change again
		return nil
	}
	if c.cert != nil {
		c.log.Info("HTTP certificate reloaded", zap.String("cert_file", f.CertFile))
	}
	c.cert, c.stamp = &cert, stamp
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (c *certSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	_ = c.refresh(time.Now())
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cert, nil
}

func (c *certSource) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate}
}
