package policy

import (
	"strings"

	"go.yaml.in/yaml/v3"
)

// What a withdrawal does to the assets collected for a purpose
// (Purpose.OnWithdraw).
const (
	// WithdrawErase erases them and everything derived from them (GDPR
	// Art. 17(1)(b)); the default.
	WithdrawErase = "erase"
	// WithdrawKeep keeps them until retention ends, on another legal basis
	// the policy states with a written reason.
	WithdrawKeep = "keep"
)

// KeepBases are the legal bases on which a purpose may keep what it
// collected after the consent is withdrawn: GDPR Art. 6(1)(b), (c), (e) and
// (f). Consent itself (a) is gone by then.
var KeepBases = []string{"contract", "legal_obligation", "public_task", "legitimate_interests"}

var withdrawFields = []string{"keep", "reason"}

// keepHint is what a policy must write to keep data after a withdrawal.
const keepHint = `a withdrawal erases what was collected for the purpose; to keep it, write on_withdraw: {keep: <basis>, reason: "…"} with basis one of ` +
	"contract, legal_obligation, public_task, legitimate_interests (GDPR Art. 6(1) b, c, e, f), or leave on_withdraw out"

// ErasesOnWithdraw reports whether a withdrawal of the purpose erases the
// assets collected for it.
func (pu *Purpose) ErasesOnWithdraw() bool { return pu.OnWithdraw != WithdrawKeep }

// onWithdraw reads a purpose's on_withdraw into pu: the scalar erase, or a
// mapping {keep: <basis>, reason: "…"}. The old scalars stop and keep say
// nothing of why the data may stay, so they are refused with what to write.
func (c *checker) onWithdraw(e entry, path string, pu *Purpose) {
	n := e.val
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		switch s := strings.TrimSpace(n.Value); s {
		case WithdrawErase:
			pu.OnWithdraw = WithdrawErase
		case "stop", WithdrawKeep:
			c.add(n.Line, path, "%q states no legal basis for keeping data after a withdrawal: %s", s, keepHint)
		default:
			c.add(n.Line, path, "%q is not allowed (use \"erase\", or %s)", s, `{keep: <basis>, reason: "…"}`)
		}
		return
	}
	m, _, ok := c.fields(n, path, withdrawFields)
	if !ok {
		return
	}
	var basis, reason string
	if v, ok := c.require(m, "keep", e.key.Line, path); ok {
		basis, _ = c.oneOf(v.val, join(path, "keep"), KeepBases)
	}
	if v, ok := m["reason"]; ok {
		reason, _ = c.text(v.val, join(path, "reason"))
	} else {
		c.add(e.key.Line, join(path, "reason"), `keeping data after a withdrawal needs a written reason: add reason: "…"`)
	}
	if basis != "" && reason != "" {
		pu.OnWithdraw, pu.KeepBasis, pu.KeepReason = WithdrawKeep, basis, reason
	}
}
