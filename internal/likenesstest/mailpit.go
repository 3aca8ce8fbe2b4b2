package likenesstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// MailpitVersion is the Mailpit the mail tests run against; .ci/run
// installs it with go install github.com/axllent/mailpit@MailpitVersion.
const MailpitVersion = "v1.33.1"

// MailpitEnv names the variable that may point at a mailpit binary.
const MailpitEnv = "LIKENESS_TEST_MAILPIT"

// Mailpit is a real SMTP server with an HTTP API to read what it received,
// running for one test.
type Mailpit struct {
	SMTPAddr string // host:port to send to
	APIURL   string // http://host:port
}

// mailpitBinary finds mailpit: $LIKENESS_TEST_MAILPIT, then PATH, then
// where go install puts it.
func mailpitBinary() string {
	if p := os.Getenv(MailpitEnv); p != "" {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	dirs := []string{os.Getenv("GOBIN")}
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(strings.Split(gp, string(os.PathListSeparator))[0], "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if p := filepath.Join(d, "mailpit"); fileExists(p) {
			return p
		}
	}
	return ""
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

// FreeAddr returns a loopback address with a port free at the moment.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// StartMailpit starts Mailpit on free loopback ports, with extra flags if
// given, and stops it when the test ends. Without a mailpit binary the
// test is skipped with one line.
func StartMailpit(t testing.TB, extra ...string) *Mailpit {
	t.Helper()
	bin := mailpitBinary()
	if bin == "" {
		t.Skipf("mail tests skipped: no mailpit binary (go install github.com/axllent/mailpit@%s, or set %s)", MailpitVersion, MailpitEnv)
	}
	smtpAddr, httpAddr := FreeAddr(t), FreeAddr(t)
	args := append([]string{"--smtp", smtpAddr, "--listen", httpAddr, "--database", filepath.Join(t.TempDir(), "mailpit.db"),
		"--disable-version-check", "--quiet", "--smtp-disable-rdns"}, extra...)
	cmd := exec.Command(bin, args...)
	var out Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mailpit: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	m := &Mailpit{SMTPAddr: smtpAddr, APIURL: "http://" + httpAddr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(m.APIURL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if c, err := net.DialTimeout("tcp", smtpAddr, time.Second); err == nil {
					c.Close()
					return m
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit did not come up on %s / %s: %s", smtpAddr, httpAddr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// MailAddress is a sender or recipient as Mailpit reports it.
type MailAddress struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// MailSummary is a received message in Mailpit's list.
type MailSummary struct {
	ID        string        `json:"ID"`
	MessageID string        `json:"MessageID"`
	From      MailAddress   `json:"From"`
	To        []MailAddress `json:"To"`
	Subject   string        `json:"Subject"`
}

// MailMessage is one received message, its bodies decoded.
type MailMessage struct {
	MailSummary
	Text string `json:"Text"`
	HTML string `json:"HTML"`
}

func (m *Mailpit) get(t testing.TB, path string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", m.APIURL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("mailpit %s: %v", path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("mailpit %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("mailpit %s: %v", path, err)
	}
}

// Messages lists every message received, newest first.
func (m *Mailpit) Messages(t testing.TB) []MailSummary {
	t.Helper()
	var list struct {
		Messages []MailSummary `json:"messages"`
	}
	m.get(t, "/api/v1/messages?limit=500", &list)
	return list.Messages
}

// Message reads one received message.
func (m *Mailpit) Message(t testing.TB, id string) *MailMessage {
	t.Helper()
	var msg MailMessage
	m.get(t, "/api/v1/message/"+id, &msg)
	return &msg
}

// Headers reads the headers of one received message.
func (m *Mailpit) Headers(t testing.TB, id string) map[string][]string {
	t.Helper()
	h := map[string][]string{}
	m.get(t, "/api/v1/message/"+id+"/headers", &h)
	return h
}

// To returns the messages received for addr, oldest first, read in full.
func (m *Mailpit) To(t testing.TB, addr string) []*MailMessage {
	t.Helper()
	var out []*MailMessage
	list := m.Messages(t)
	for i := len(list) - 1; i >= 0; i-- {
		for _, to := range list[i].To {
			if strings.EqualFold(to.Address, addr) {
				out = append(out, m.Message(t, list[i].ID))
				break
			}
		}
	}
	return out
}

// String names the server in failure messages.
func (m *Mailpit) String() string { return fmt.Sprintf("mailpit smtp %s api %s", m.SMTPAddr, m.APIURL) }

// WaitTo waits up to timeout until addr has received n messages, for
// tests of a running server whose dispatcher sends on its own schedule,
// and returns them, oldest first.
func (m *Mailpit) WaitTo(t testing.TB, addr string, n int, timeout time.Duration) []*MailMessage {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := m.To(t, addr)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s received %d mails in %v, want %d", addr, len(got), timeout, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
