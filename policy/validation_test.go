package policy

import (
	"errors"
	"strings"
	"testing"
	"time"

	"likeness"
)

func TestValidationDeclarationsDecideWhichConsentsWait(t *testing.T) {
	data := edit(13, 12, "    validation: {required: true, deadline: 48h}", "  p2:", "    title: {en: T, de: T}",
		"    description: {en: D, de: D}", "    data: [image]", "    retention: 90d",
		"    validation: {methods: [voice]}")
	data = append(data, []byte("validation: {methods: [guardian], deadline: 1w}\n")...)
	p, err := Parse("likeness.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		purpose  string
		method   likeness.Method
		guardian bool
		need     bool
		deadline time.Duration
	}{
		{"p1", likeness.Checkbox, false, true, 48 * time.Hour},   // required, its own deadline
		{"p2", likeness.Verbal, false, true, 7 * 24 * time.Hour}, // "voice" is verbal; the top-level deadline
		{"p2", likeness.Checkbox, false, false, 0},
		{"p2", likeness.Checkbox, true, true, 7 * 24 * time.Hour}, // a guardian's consent, by the top level
		{"nope", likeness.Verbal, true, false, 0},
	}
	for _, tt := range tests {
		need, d := p.NeedsValidation(tt.purpose, tt.method, tt.guardian)
		if need != tt.need || d != tt.deadline {
			t.Errorf("NeedsValidation(%s, %s, guardian=%v) = %v, %s; want %v, %s", tt.purpose, tt.method, tt.guardian, need, d, tt.need, tt.deadline)
		}
	}
	if need, d := Example().NeedsValidation("ai-training", likeness.Verbal, true); need || d != 0 {
		t.Errorf("the example policy declares no validation, yet NeedsValidation = %v, %s", need, d)
	}
	p3, err := Parse("likeness.yaml", edit(13, 12, "    validation: {methods: [verbal]}"))
	if err != nil {
		t.Fatal(err)
	}
	if need, d := p3.NeedsValidation("p1", likeness.Verbal, false); !need || d != DefaultValidationDeadline {
		t.Errorf("without a deadline: %v, %s; want true, %s", need, d, DefaultValidationDeadline)
	}
}

func TestValidationMistakesNameLineAndField(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		line  int
		field string
		msg   string
	}{
		{"unknown field", edit(13, 12, "    validation: {required: true, by: ops}"), 13, "purposes.p1.validation.by", "unknown field"},
		{"required not a bool", edit(13, 12, "    validation: {required: yes please}"), 13, "purposes.p1.validation.required", "true or false"},
		{"asks for nothing", edit(13, 12, "    validation: {deadline: 72h}"), 13, "purposes.p1.validation", "asks for no validation"},
		{"unknown method", edit(13, 12, "    validation: {methods: [verbal, telepathy]}"), 13, "purposes.p1.validation.methods[1]", `unknown method "telepathy"`},
		{"voice and verbal", edit(13, 12, "    validation: {methods: [voice, verbal]}"), 13, "purposes.p1.validation.methods[1]", "listed twice"},
		{"empty methods", edit(13, 12, "    validation: {methods: []}"), 13, "purposes.p1.validation.methods", "at least one method"},
		{"required and methods", edit(13, 12, "    validation: {required: true, methods: [verbal]}"), 13, "purposes.p1.validation.methods", "already covers"},
		{"bad deadline", edit(13, 12, "    validation: {required: true, deadline: 3 days}"), 13, "purposes.p1.validation.deadline", "not a deadline"},
		{"months are not a deadline", edit(13, 12, "    validation: {required: true, deadline: 1mo}"), 13, "purposes.p1.validation.deadline", "not a deadline"},
		{"deadline too long", edit(13, 12, "    validation: {required: true, deadline: 100d}"), 13, "purposes.p1.validation.deadline", "too long"},
		{"deadline zero", edit(13, 12, "    validation: {required: true, deadline: 0h}"), 13, "purposes.p1.validation.deadline", "too short"},
		{"top-level required", edit(15, 14, "validation: {required: true}"), 15, "validation.required", "unknown field"},
		{"top-level without methods", edit(15, 14, "validation: {deadline: 72h}"), 15, "validation", "names no method"},
		{"not a mapping", edit(13, 12, "    validation: true"), 13, "purposes.p1.validation", "mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("likeness.yaml", tt.data)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, want a *ValidationError", err)
			}
			for _, p := range ve.Problems {
				if p.Line == tt.line && p.Field == tt.field && strings.Contains(p.Message, tt.msg) {
					return
				}
			}
			t.Fatalf("want %d %s %q among:\n%v", tt.line, tt.field, tt.msg, err)
		})
	}
}
