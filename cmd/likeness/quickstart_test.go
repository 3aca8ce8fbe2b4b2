package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestREADMEQuickStart runs the README's quick start, line for line, in a
// copy of the repository (so the tree stays clean), with only the port
// changed to a free one: a newcomer who pastes it gets an allow, a receipt
// that verifies, a dataset and a deny after the withdrawal.
func TestREADMEQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("README quick start skipped in -short mode: it builds the binary and serves")
	}
	t.Parallel()
	for _, tool := range []string{"bash", "curl", "jq", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("README quick start skipped: %s is not installed", tool)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Quick start\n")
	_, script, ok2 := strings.Cut(section, "```sh\n")
	script, _, ok3 := strings.Cut(script, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no ## Quick start section with a sh block")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	script = strings.ReplaceAll(script, "127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", port))

	dir := copyRepo(t, root)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LIKENESS_ADMIN_TOKEN=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "quickstart", "serve.log"))
		t.Fatalf("quick start failed: %v\n%s\nserve.log:\n%s", err, out, log)
	}
	text := string(out)
	for _, want := range []string{
		`{"allow":true,`,
		`receipt ok: grant of "ai-training"`,
		`searched 1 image for faces, blurred 1 of 1 face box`,
		`{"allow":false,"reasons":["withdrawn"]}`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("quick start output lacks %s:\n%s", want, text)
		}
	}
	if strings.Index(text, `"allow":true`) > strings.Index(text, `"allow":false`) {
		t.Errorf("the deny came before the allow:\n%s", text)
	}
}

// copyRepo copies the files git tracks into a temporary folder.
func copyRepo(t *testing.T, root string) string {
	t.Helper()
	files, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Skipf("README quick start skipped: not a git checkout (%v)", err)
	}
	dir := t.TempDir()
	for name := range strings.SplitSeq(strings.TrimRight(string(files), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
