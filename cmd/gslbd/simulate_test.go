package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSimulate runs "gslbd simulate" in-process on port 0 and fails a
// region through its control API.
func TestSimulate(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &lockedBuffer{}
	errb := &lockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- runSimulate(ctx, []string{"-regions", "r1=127.0.0.1:0,r2=127.0.0.1:0", "-http", "127.0.0.1:0"}, out, errb)
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("simulate exited %d: %s", code, errb.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("simulate did not stop")
		}
	}()
	apiRe := regexp.MustCompile(`control API\s+http://(\S+)/api`)
	r1Re := regexp.MustCompile(`r1\s+liveness (http://\S+/healthz)`)
	waitFor(t, "simulate to print its addresses", 10*time.Second, func() bool { return apiRe.MatchString(out.String()) })
	api := apiRe.FindStringSubmatch(out.String())[1]
	health := r1Re.FindStringSubmatch(out.String())[1]

	status := func(url string) int {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := status(health); c != 200 {
		t.Fatalf("r1 healthz %d before the outage", c)
	}
	resp, err := http.Post("http://"+api+"/api/v1/dev/regions/r1", "application/json", strings.NewReader(`{"alive":false}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if c := status(health); resp.StatusCode != 200 || c != 503 {
		t.Fatalf("after failing r1: API %d, healthz %d", resp.StatusCode, c)
	}
	resp, err = http.Post("http://"+api+"/api/v1/dev/regions/nope", "application/json", strings.NewReader(`{"alive":false}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("unknown region: %d, want 404", resp.StatusCode)
	}
	var e bytesWriter
	if code := runSimulate(context.Background(), []string{"-regions", "broken"}, &e, &e); code != 2 {
		t.Errorf("bad -regions: exit %d, want 2", code)
	}
}

type bytesWriter struct{ strings.Builder }
