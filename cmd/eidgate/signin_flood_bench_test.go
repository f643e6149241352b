package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eidgate/eidgate/accounts"
	"github.com/eidgate/eidgate/internal/demo"
)

// BenchmarkDepartmentAPIUnderSignInFlood measures the department API
// (resolve) one request at a time, first alone and then while a flood of
// failed resident sign-ins (30 a second, each with another unknown
// document) runs beside it. "distributed" sends each attempt from another
// client address (through a trusted proxy, as a distributed flood
// arrives), so that neither per-name nor per-client delays stop it: only
// the bound on concurrent password hashing does; "one-client" floods from
// one address, which the per-client delays slow down. It reports both p99
// latencies, their ratio, and how the flood was answered.
//
//	go test ./cmd/eidgate -run '^$' -bench BenchmarkDepartmentAPIUnderSignInFlood -benchtime 1x
func BenchmarkDepartmentAPIUnderSignInFlood(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.Demo, cfg.LogLevel = "127.0.0.1:0", b.TempDir(), true, "error"
	cfg.TrustedProxies = "127.0.0.1"
	m := NewMain(cfg)
	if err := m.Open(b.Context()); err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	info := m.Demo()
	var hrss demo.DepartmentKey
	for _, d := range info.Departments {
		if d.ID == "hrss" {
			hrss = d
		}
	}
	body, _ := json.Marshal(resolveBody(info.Residents[0], "edu.degree", "employment"))
	client := &http.Client{Timeout: 30 * time.Second}
	resolve := func() time.Duration {
		req, _ := http.NewRequest(http.MethodPost, m.URL()+"/v1/routes/resolve", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+hrss.APIKey)
		req.Header.Set("X-Eidgate-Official", "clerk-bench")
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		return time.Since(start)
	}
	const samples = 200
	p99 := func() time.Duration {
		var d []time.Duration
		for range samples {
			d = append(d, resolve())
			time.Sleep(10 * time.Millisecond)
		}
		slices.Sort(d)
		return d[len(d)*99/100-1]
	}
	for range 20 {
		resolve() // warm the caches
	}
	for _, distributed := range []bool{true, false} {
		name := "distributed"
		if !distributed {
			name = "one-client"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				floodOnce(b, m.URL(), client, distributed, p99)
			}
		})
	}
}

// floodOnce measures the p99 of the department API alone and beside a
// flood of failed sign-ins, from many clients or from one.
func floodOnce(b *testing.B, base string, client *http.Client, distributed bool, p99 func() time.Duration) {
	const (
		floodClients = 16
		floodRate    = 30 // attempts per second
	)
	{
		normal := p99()
		promotedBefore := accounts.HashesPromoted()

		stop := make(chan struct{})
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			answered = map[int]int{}
		)
		// 16 clients, 30 attempts per second between them: more than twice
		// the flood that made the API ten times slower before hashing was
		// bounded.
		for w := range floodClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick := time.NewTicker(time.Second * floodClients / floodRate)
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-tick.C:
					}
					doc := map[string]any{"document": map[string]any{"type": "passport", "number": fmt.Sprintf("X%08d", rand.IntN(1e8)), "country": "ESP"},
						"password": "guess " + fmt.Sprint(i)}
					raw, _ := json.Marshal(doc)
					req, _ := http.NewRequest(http.MethodPost, base+"/v1/me/login", bytes.NewReader(raw))
					req.Header.Set("Content-Type", "application/json")
					if distributed {
						req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", w, i/250%250, i%250+1))
					}
					resp, err := client.Do(req)
					if err != nil {
						continue
					}
					resp.Body.Close()
					mu.Lock()
					answered[resp.StatusCode]++
					mu.Unlock()
				}
			}()
		}
		time.Sleep(2 * time.Second) // the flood is under way
		flooded := p99()
		close(stop)
		wg.Wait()

		b.ReportMetric(float64(normal.Microseconds())/1000, "p99-normal-ms")
		b.ReportMetric(float64(flooded.Microseconds())/1000, "p99-flood-ms")
		b.ReportMetric(float64(flooded)/float64(normal), "p99-ratio")
		b.ReportMetric(float64(accounts.HashesPromoted()-promotedBefore), "hashes-promoted")
		for status, n := range answered {
			b.ReportMetric(float64(n), fmt.Sprintf("flood-%d", status))
		}
	}
}
