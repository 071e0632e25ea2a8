//go:build unix

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/hashforge/hashforge/internal/testenv"
)

// chromiumPath returns the first Chromium or Chrome binary installed, or "".
// `make test` installs Debian's chromium when it runs as root.
func chromiumPath() string {
	for _, name := range []string{
		"chromium", "chromium-browser", "chromium-headless-shell", "headless_shell",
		"google-chrome", "google-chrome-stable",
		"/usr/bin/chromium", "/usr/lib/chromium/chromium", "/opt/google/chrome/chrome",
	} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// pageErrorsJS collects the page's uncaught errors and rejected promises, so
// the test can require a page that never threw.
const pageErrorsJS = `window.__pageErrors = [];
addEventListener('error', (e) => window.__pageErrors.push(String(e.message || e)));
addEventListener('unhandledrejection', (e) => window.__pageErrors.push('unhandled rejection: ' + String(e.reason)));`

// liveRowsJS records in window.__liveRows the height of each block row a
// live "tip" event put in the table: after the page's handler ran, the table
// holds a row for the event's block that it did not hold, as that element,
// before. Rows of the page's first load of /api/blocks never count, however
// late that load lands.
const liveRowsJS = `window.__liveRows = [];
(() => {
  const add = EventSource.prototype.addEventListener;
  EventSource.prototype.addEventListener = function (type, fn, opts) {
    if (type !== 'tip') return add.call(this, type, fn, opts);
    return add.call(this, type, function (ev) {
      let sel = null;
      try { sel = '#blocks tr[data-height="' + JSON.parse(ev.data).height + '"]'; } catch (e) {}
      const before = sel && document.querySelector(sel);
      const result = fn.call(this, ev);
      const row = sel && document.querySelector(sel);
      if (row && row !== before) window.__liveRows.push(Number(row.dataset.height));
      return result;
    }, opts);
  };
})();`

// TestWebPage drives the node's web page in headless Chromium against a
// regtest node mining through its own Stratum server: the height follows the chain live, new blocks appear
// in the table, a block opens with its coinbase, the Stratum miners and the
// pool show, the hashrate chart draws, and the page fits a phone. It keeps screenshots as artifacts: in
// $HASHFORGE_ARTIFACTS when set, else in the test's temporary directory; with
// HASHFORGE_SCREENSHOT=path it also writes the desktop screenshot there (the
// README's docs/webpage.png; a relative path is relative to e2e/, where the
// test runs).
func TestWebPage(t *testing.T) {
	chrome := chromiumPath()
	if chrome == "" {
		testenv.Missing(t, "chromium", "no Chromium or Chrome installed (looked for chromium, chromium-headless-shell, google-chrome); `make test` installs Debian's chromium when run as root")
	}
	artifacts := os.Getenv("HASHFORGE_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	} else if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	stratumPort := freePort(t)
	// The node mines through its own Stratum server, a share (and so a
	// block) a second or so: the page shows both sides of Stratum.
	n := startNode(t, "node", nodeOpts{mine: true, extra: []string{"--stratum-port", stratumPort,
		"--stratum-share-interval", "1s", "--pool", "stratum+tcp://127.0.0.1:" + stratumPort}})
	base := n.url()
	// A Stratum miner that subscribes and authorises shows in the page's
	// Stratum card.
	worker := dialStratum(t, "127.0.0.1:"+stratumPort)
	worker.start(t, n.mustStatus(t).NodeID.String()+".rig7")
	resp, err := httpClient.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %s, Content-Type %q; want the web page (200 text/html)", resp.Status, resp.Header.Get("Content-Type"))
	}

	// One deadline for the whole browser session; it also stops the browser.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var browserLog lockedBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root, where Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true), // containers have a small /dev/shm
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&browserLog),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()

	check := func(what string, err error) {
		t.Helper()
		if err == nil {
			return
		}
		if ctx.Err() == nil {
			// Show the page as it was when the step failed.
			if png, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
				path := filepath.Join(artifacts, "webpage-failed.png")
				if os.WriteFile(path, png, 0o644) == nil {
					t.Logf("screenshot of the failure: %s", path)
				}
			}
			if errs, jerr := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.__pageErrors || [])`)); jerr == nil {
				t.Logf("page errors: %s", errs)
			}
		}
		t.Fatalf("%s: %v\nbrowser output:\n%s", what, err, logTail(browserLog.String()))
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		check("screenshot "+name, err)
		path := filepath.Join(artifacts, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", path, len(png))
	}
	poll := func(what, expr string, d time.Duration) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Poll[string](expr,
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(d)))
		check(what+" (within "+d.String()+")", err)
		return v
	}

	check("start the browser and open the page", chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument,
				page.AddScriptToEvaluateOnNewDocumentParams{Source: pageErrorsJS + "\n" + liveRowsJS})
			return err
		}),
		chromedp.Navigate(base+"/"),
	))

	// The summary shows a decimal height, and the event stream connects.
	h0, _ := strconv.Atoi(poll("#height shows the height",
		`/^\d+$/.test(document.getElementById('height').textContent) && document.getElementById('height').textContent`, 15*time.Second))
	poll("#status shows a live event stream",
		`document.getElementById('status').dataset.state === 'live' && 'live'`, 15*time.Second)
	t.Logf("page open at height %d", h0)

	// The height follows the chain, and a block mined after the page loaded
	// enters the table live: a tip event puts its row above the first
	// height. A row the first load already showed does not count.
	h1 := poll("#height rises by 2", fmt.Sprintf(
		`(() => { const h = Number(document.getElementById('height').textContent); return h >= %d && String(h); })()`, h0+2), 30*time.Second)
	row := poll("a tip event puts a block row above the first height in the table", fmt.Sprintf(
		`(() => { const h = window.__liveRows.find((h) => h > %d && document.querySelector('#blocks tr[data-height="' + h + '"]')); return h ? String(h) : ''; })()`, h0), 15*time.Second)
	t.Logf("height rose to %s; block row %s entered the table live", h1, row)

	// Click the row: the block view opens and lists the block's coinbase. The
	// table changes with every block, so the click is one script step that
	// cannot hit a row that moved.
	hash, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
		`(() => { const r = [...document.querySelectorAll('#blocks tr[data-height]')].find((r) => Number(r.dataset.height) >= %d); r.click(); return r.dataset.height + ' ' + r.dataset.hash; })()`, h0)))
	check("click a block row", err)
	clicked, hash, _ := strings.Cut(hash, " ")
	poll("the block view opens with its coinbase", fmt.Sprintf(
		`(() => { const d = document.getElementById('block-view');
		  const cb = document.querySelector('#bv-txs tr[data-kind="coinbase"]');
		  return d.open && cb && document.getElementById('bv-title').textContent === 'Block #%s' &&
		    document.getElementById('bv-fields').textContent.includes(%q) && cb.textContent; })()`, clicked, hash), 10*time.Second)
	shot("webpage-block.png")
	check("close the block view", chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#bv-close"))))
	poll("the block view closes", `!document.getElementById('block-view').open && 'closed'`, 5*time.Second)

	poll("the Stratum card lists the miner", `(() => { const r = [...document.querySelectorAll('#stratum-rows tr')].find((r) => r.textContent.includes('rig7'));
		return !document.getElementById('stratum').hidden && r && r.textContent; })()`, 10*time.Second)
	poll("the identity card shows the pool the node mines for", fmt.Sprintf(`(() => { const p = document.getElementById('pool');
		return !document.getElementById('pool-row').hidden && p.textContent.includes(%q) && p.textContent.includes('connected') && p.textContent; })()`,
		"stratum+tcp://127.0.0.1:"+stratumPort), 10*time.Second)

	// The hashrate chart draws once the node's 10 s window has filled.
	poll("the hashrate chart draws the total", `document.querySelector('#chart path[data-series="total"]') ? 'drawn' : ''`, 30*time.Second)
	if os.Getenv("HASHFORGE_SCREENSHOT") != "" {
		// For the README: a few more samples make a line worth showing.
		check("wait for more hashrate samples", chromedp.Do(ctx, chromedp.Sleep(25*time.Second)))
	}
	shot("webpage.png")
	if p := os.Getenv("HASHFORGE_SCREENSHOT"); p != "" {
		// The README shows the first screen, 1280x900, not the whole page.
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		check("screenshot for HASHFORGE_SCREENSHOT", err)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", p, len(png))
	}

	// A phone: the summary is on screen and nothing is wider than the screen.
	check("phone viewport", chromedp.Do(ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile, chromedp.EmulateTouch)))
	poll("the page fits a phone", `(() => {
		const s = document.getElementById('summary').getBoundingClientRect();
		const h = document.getElementById('height').getBoundingClientRect();
		return s.width > 0 && s.right <= innerWidth + 1 && h.width > 0 && h.top < innerHeight &&
			document.documentElement.scrollWidth <= innerWidth + 1 && 'fits';
	})()`, 10*time.Second)
	shot("webpage-phone.png")

	errs, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__pageErrors`))
	check("read page errors", err)
	if len(errs) > 0 {
		b, _ := json.Marshal(errs)
		t.Errorf("the page threw: %s", b)
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("the browser session ran out of time")
	}
}
