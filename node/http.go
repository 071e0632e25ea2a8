package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashforge/hashforge/api"
	"github.com/hashforge/hashforge/apiclient"
	"github.com/hashforge/hashforge/internal/httpguard"
)

// shutdownGrace bounds how long HTTP requests in flight may finish at shutdown.
const shutdownGrace = time.Second

// serveHTTP serves the API of parts on cfg.HTTPAddr until ctx ends, with
// the token in the datadir's cookie file for the tools of whoever may read
// the datadir; the goroutines it starts join wg.
func serveHTTP(ctx context.Context, wg *sync.WaitGroup, cfg Config, parts api.Config, log *slog.Logger) error {
	token := cfg.APIToken
	if token == "" {
		token = rand.Text()
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	// Written before the first request is served: a tool that finds the
	// API answering finds the cookie too.
	cookie := filepath.Join(cfg.DataDir, apiclient.CookieFile)
	if err := writeCookie(cookie, token); err != nil {
		ln.Close()
		return err
	}
	parts.Token, parts.Hosts = token, httpguard.NewHosts(cfg.HTTPAddr, cfg.HTTPHosts...)
	srv := &http.Server{
		Handler:           api.New(parts),
		ReadHeaderTimeout: 10 * time.Second,
		// Requests end with the node: event streams never end by themselves.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	log.Info("http listening", "addr", "http://"+ln.Addr().String(), "cookie", cookie)
	wg.Go(func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer scancel()
		if srv.Shutdown(sctx) != nil {
			srv.Close() // requests still running after the grace are cut
		}
		// The token dies with the node; a cookie left behind would only
		// mislead the next tool.
		if err := os.Remove(cookie); err != nil {
			log.Warn("remove the API cookie", "err", err)
		}
	})
	return nil
}

// writeCookie writes token to path, readable by the owner alone, through a
// temporary file renamed over the old one: a tool never reads half a token,
// and a cookie left by a node that crashed is replaced.
func writeCookie(path, token string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("API cookie: %w", err)
	}
	_, err = tmp.WriteString(token)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("API cookie: %w", err)
	}
	return nil
}
