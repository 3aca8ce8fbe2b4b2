package consent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"likeness"
	"likeness/policy"
)

// PolicySetter is told of the policy in force and, per purpose, the notice
// version since which its current material terms apply. The decision engine
// implements it.
type PolicySetter interface {
	SetPolicy(p *policy.Policy, materialSince map[string]int64)
}

// Notices holds the policy in force and its published notice versions.
// Everything that reads the policy reads it here, so a new policy reaches
// grants, decisions and pages at once. Safe for concurrent use.
type Notices struct {
	store  likeness.NoticeStore
	engine PolicySetter
	now    func() time.Time

	mu      sync.RWMutex
	policy  *policy.Policy
	version *likeness.NoticeVersion
	notices map[string]*policy.Notice
}

// ErrNotInForce means a policy is not the one whose notices are published
// last: a command that must not change what people were told refuses it.
var ErrNotInForce = errors.New("consent: the policy is not the one in force")

// UseNotices is PublishNotices for a one-off command, which must not change
// what people were told: when the latest notice version was rendered from
// another policy, it refuses p (ErrNotInForce) rather than publish it, for
// a new version would make every consent whose purpose it words differently
// stop counting once serve put its own back. It publishes only on a
// database where nothing was published yet.
func UseNotices(ctx context.Context, store likeness.NoticeStore, engine PolicySetter, p *policy.Policy, now func() time.Time) (*Notices, error) {
	latest, err := store.LatestNotice(ctx)
	switch {
	case likeness.ErrorCode(err) == likeness.ENOTFOUND:
	case err != nil:
		return nil, fmt.Errorf("consent: read the latest notice: %w", err)
	case latest.PolicySHA256 != policySHA256(p):
		return nil, fmt.Errorf("%w: notice version %d, published %s, was rendered from another policy",
			ErrNotInForce, latest.Version, latest.CreatedAt.UTC().Format(time.RFC3339))
	}
	return PublishNotices(ctx, store, engine, p, now)
}

// policySHA256 is the hex SHA-256 of p's source: a notice version's
// PolicySHA256.
func policySHA256(p *policy.Policy) string {
	sum := sha256.Sum256(p.Source)
	return hex.EncodeToString(sum[:])
}

// PublishNotices makes p the policy in force, publishing its notices as a
// new version if they differ from the latest. now nil is time.Now.
func PublishNotices(ctx context.Context, store likeness.NoticeStore, engine PolicySetter, p *policy.Policy, now func() time.Time) (*Notices, error) {
	if store == nil || engine == nil || p == nil {
		return nil, fmt.Errorf("consent: a notice store, an engine and a policy are required")
	}
	if now == nil {
		now = time.Now
	}
	n := &Notices{store: store, engine: engine, now: now}
	if err := n.SetPolicy(ctx, p); err != nil {
		return nil, err
	}
	return n, nil
}

// Policy returns the policy in force.
func (n *Notices) Policy() *policy.Policy {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.policy
}

// DefaultLanguage is the policy's first language: the locale of a subject
// created without one.
func (n *Notices) DefaultLanguage() string { return n.Policy().Languages[0] }

// current returns the policy and the notice version in force together.
func (n *Notices) current() (*policy.Policy, *likeness.NoticeVersion) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.policy, n.version
}

// SetPolicy renders the notices of p, publishes them as a new notice version
// if they differ from the latest, and makes p the policy in force.
func (n *Notices) SetPolicy(ctx context.Context, p *policy.Policy) error {
	notices := map[string]*policy.Notice{}
	nv := &likeness.NoticeVersion{CreatedAt: n.now().UTC(), Texts: map[string]string{}, Material: map[string]string{}}
	nv.PolicySHA256 = policySHA256(p)
	for _, lang := range p.Languages {
		rendered, err := p.Notice(lang)
		if err != nil {
			return fmt.Errorf("consent: render notice %s: %w", lang, err)
		}
		notices[lang] = rendered
		nv.Texts[lang] = rendered.SHA256
	}
	for _, id := range p.PurposeIDs {
		nv.Material[id] = p.Material(id)
	}
	published, err := n.store.PublishNotice(ctx, nv)
	if err != nil {
		return fmt.Errorf("consent: publish notice: %w", err)
	}
	for _, rendered := range notices {
		rendered.Version = published.Version
	}
	n.mu.Lock()
	n.policy, n.version, n.notices = p, published, notices
	n.mu.Unlock()
	n.engine.SetPolicy(p, published.MaterialSince)
	return nil
}

// Published returns every published notice version, oldest first.
func (n *Notices) Published(ctx context.Context) ([]*likeness.NoticeVersion, error) {
	cur, err := n.store.LatestNotice(ctx)
	if err != nil {
		return nil, fmt.Errorf("consent: latest notice version: %w", err)
	}
	out := make([]*likeness.NoticeVersion, 0, cur.Version)
	for v := int64(1); v < cur.Version; v++ {
		nv, err := n.store.Notice(ctx, v)
		if err != nil {
			return nil, fmt.Errorf("consent: notice version %d: %w", v, err)
		}
		out = append(out, nv)
	}
	return append(out, cur), nil
}

// Notice returns the current notice in lang ("" for the default language).
func (n *Notices) Notice(lang string) (*policy.Notice, error) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if lang == "" {
		lang = n.policy.Languages[0]
	}
	out, ok := n.notices[lang]
	if !ok {
		return nil, likeness.Errorf(likeness.EINVALID, "no notice in language %q; offered: %v", lang, n.policy.Languages)
	}
	return out, nil
}

// NoticeFor returns the notice in the subject's locale if offered, else the
// default language.
func (n *Notices) NoticeFor(locale string) *policy.Notice {
	if out, err := n.Notice(locale); err == nil {
		return out
	}
	out, _ := n.Notice("")
	return out
}
