package node

import (
	"cmp"
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
	"github.com/hashforge/hashforge/internal/atomicfile"
	"github.com/hashforge/hashforge/internal/httpguard"
)

// shutdownGrace bounds how long HTTP requests in flight may finish at shutdown.
const shutdownGrace = time.Second

// Defaults of Config.HTTPTimeout and Config.HTTPMaxConns. Every answer but
// an event stream is small and quick, so 30 s is generous for a client on a
// slow link and short for one that holds a connection to exhaust the node.
// A page holds an event stream and a few requests; 256 connections serve
// many pages, the 64 event streams the API allows and scrapers besides.
const (
	DefaultHTTPTimeout  = 30 * time.Second
	DefaultHTTPMaxConns = 256
)

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
	timeout := cmp.Or(cfg.HTTPTimeout, DefaultHTTPTimeout)
	srv := &http.Server{
		Handler: api.New(parts),
		// A client sending a byte a second, or idling on a kept-alive
		// connection, holds a connection slot no longer than this.
		ReadHeaderTimeout: timeout,
		ReadTimeout:       timeout,
		WriteTimeout:      timeout,
		IdleTimeout:       timeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests end with the node: event streams never end by themselves.
		BaseContext: func(net.Listener) context.Context { return ctx },
	}
	maxConns := cmp.Or(cfg.HTTPMaxConns, DefaultHTTPMaxConns)
	log.Info("http listening", "addr", "http://"+ln.Addr().String(), "cookie", cookie, "timeout", timeout, "max_conns", maxConns)
	wg.Go(func() {
		if err := srv.Serve(limitListen(ln, maxConns)); err != nil && !errors.Is(err, http.ErrServerClosed) {
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

// writeCookie writes token to path, readable by the owner alone, replacing
// it whole: a tool never reads half a token, and a cookie left by a node
// that crashed is replaced.
func writeCookie(path, token string) error {
	if err := atomicfile.Write(path, []byte(token), 0o600); err != nil {
		return fmt.Errorf("API cookie: %w", err)
	}
	return nil
}

// limitListener accepts at most cap(slots) connections at once; past that,
// Accept waits for one to close, and new clients wait in the kernel's
// backlog instead of costing the node a goroutine and buffers each.
type limitListener struct {
	net.Listener
	slots     chan struct{}
	closed    chan struct{}
	closeOnce sync.Once
}

func limitListen(ln net.Listener, n int) net.Listener {
	return &limitListener{Listener: ln, slots: make(chan struct{}, n), closed: make(chan struct{})}
}

func (l *limitListener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	case <-l.closed:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	return &limitConn{Conn: c, release: sync.OnceFunc(func() { <-l.slots })}, nil
}

// Close also ends an Accept waiting for a slot.
func (l *limitListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// limitConn gives its slot back when closed, once however often it is.
type limitConn struct {
	net.Conn
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}
