package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"

	"github.com/gslbd/gslbd/config"
	"github.com/gslbd/gslbd/configs"
	"github.com/gslbd/gslbd/dns"
)

// newConfigSource is the config source for the command line. With -dev it
// also starts the simulated backends and makes a fresh admin token; stop
// ends the backends (a no-op without -dev).
func newConfigSource(f flags) (src *configSource, devToken string, stop func(), err error) {
	src = &configSource{path: f.configPath, dnsAddrs: f.dnsAddrs, httpAddrs: f.httpAddrs}
	stop = func() {}
	if f.dev {
		base, err := config.Prepare(configs.Dev, "configs/dev.yaml (embedded)")
		if err != nil {
			return nil, "", nil, fmt.Errorf("embedded dev config: %w", err)
		}
		regions := make([]string, 0, len(base.Regions))
		for _, r := range base.Regions {
			regions = append(regions, r.Name)
		}
		dev, err := startDevBackends(regions, nil)
		if err != nil {
			return nil, "", nil, err
		}
		stop = dev.close
		src.dev = dev
		devToken = randomToken()
	}
	return src, devToken, stop, nil
}

// randomToken is a fresh -dev admin token.
func randomToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func printDevHelp(w io.Writer, d *dns.Server, httpLn net.Listener, token string) {
	dnsAddr := "127.0.0.1:5353"
	if a := d.UDPAddrs(); len(a) > 0 {
		dnsAddr = a[0].String()
	}
	host, port, _ := net.SplitHostPort(dnsAddr)
	web := ""
	if httpLn != nil {
		web = "http://" + httpLn.Addr().String()
	}
	fmt.Fprintf(w, `gslbd -dev is serving gslb.test. with simulated regions us-east, eu-west, ap-southeast.
  admin token:  %s
  dashboard:    %s/
  try:          dig @%s -p %s app.gslb.test +subnet=81.2.69.160/27     (London -> eu-west)
                dig @%s -p %s app.gslb.test +subnet=175.16.199.0/24    (Changchun -> ap-southeast)
                dig @%s -p %s app.gslb.test +subnet=216.160.83.56/29   (Milton, WA -> us-east)
  fail eu-west: curl -X POST -d '{"alive":false}' %s/api/v1/dev/regions/eu-west
  lag eu-west:  curl -X POST -d '{"alive":true,"lag_seconds":30}' %s/api/v1/dev/regions/eu-west
`, token, web, host, port, host, port, host, port, web, web)
}
