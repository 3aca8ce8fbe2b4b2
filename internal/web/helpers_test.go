package web_test

import (
	"encoding/json"
	"fmt"
	"os"
)

func readFile(name string) ([]byte, error) { return os.ReadFile(name) }

func jsString(s string) string { b, _ := json.Marshal(s); return string(b) }

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
