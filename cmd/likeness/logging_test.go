package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestLogFormatJSONWritesOneObjectPerLine(t *testing.T) {
	var buf bytes.Buffer
	logger, err := newLogger("json", &buf)
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("likeness is listening", "url", "http://127.0.0.1:8080")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil || line["msg"] != "likeness is listening" {
		t.Fatalf("json log line: %v: %s", err, buf.Bytes())
	}
	buf.Reset()
	if logger, err = newLogger("text", &buf); err != nil {
		t.Fatal(err)
	}
	logger.Info("shutting down")
	if !strings.Contains(buf.String(), `msg="shutting down"`) {
		t.Fatalf("text log line: %s", buf.Bytes())
	}
	if _, err := newLogger("xml", &buf); !errors.Is(err, errUsage) {
		t.Fatalf("--log-format xml: %v, want a usage error", err)
	}
}
