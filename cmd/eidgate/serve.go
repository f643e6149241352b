package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
)

// Main is the whole program wired together. Tests build the same Main on a
// random port and a temp dir instead of re-wiring the program.
type Main struct {
	Config Config

	ln     net.Listener
	server *http.Server
	done   chan error
}

// NewMain returns a Main for cfg; call Open to start it.
func NewMain(cfg Config) *Main { return &Main{Config: cfg} }

// Open validates the configuration, prepares the data dir and starts serving.
func (m *Main) Open(ctx context.Context) error {
	if err := m.Config.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(m.Config.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	ln, err := net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Listen, err)
	}
	m.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	m.server = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	m.done = make(chan error, 1)
	go func() { m.done <- m.server.Serve(ln) }()
	return nil
}

// URL is the base URL the gateway answers on.
func (m *Main) URL() string { return "http://" + m.ln.Addr().String() }

// Close stops serving and releases every resource Open took.
func (m *Main) Close() error {
	if m.server == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := m.server.Shutdown(ctx)
	if serr := <-m.done; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

func newServeCmd() *cobra.Command {
	flags := DefaultConfig()
	var configFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the gateway (embedded ledger and database unless configured otherwise)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(configFile, flags, cmd.Flags(), os.LookupEnv)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("configuration:\n%w", err)}
			}
			m := NewMain(cfg)
			if err := m.Open(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "eidgate %s listening on %s (data dir %s)\n", Version, m.URL(), cfg.DataDir)
			<-cmd.Context().Done()
			return m.Close()
		},
	}
	cmd.Flags().StringVar(&configFile, "config", os.Getenv("EIDGATE_CONFIG"), "YAML configuration file (env EIDGATE_CONFIG)")
	flags.BindFlags(cmd.Flags())
	return cmd
}
