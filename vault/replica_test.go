package vault_test

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"likeness"
	"likeness/blob/fsblob"
	"likeness/consent"
	"likeness/keys"
	"likeness/policy"
	"likeness/sqlstore"
	"likeness/storetest"
	"likeness/vault"
)

// Two replicas share a PostgreSQL database, a key file and a blob store. An
// asset erased on one is denied by the other's decisions after it syncs.
func TestAssetErasureReachesAnotherReplica(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.Postgres(t)
	dir := t.TempDir()
	kek, _, err := keys.OpenLocal(filepath.Join(dir, "kek.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	replica := func() (*consent.Service, *vault.Vault) {
		store, err := sqlstore.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		svc, err := consent.New(ctx, consent.Config{Store: store, KEK: kek, Policy: policy.Example(), LedgerName: "replicas"})
		if err != nil {
			t.Fatal(err)
		}
		v, err := vault.New(ctx, vault.Config{Store: store, Blobs: blobs, Consent: svc})
		if err != nil {
			t.Fatal(err)
		}
		return svc, v
	}
	sa, va := replica()
	sb, vb := replica()
	sub, _, err := sa.CreateSubject(ctx, "two-replicas", "en", "EU-DE")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := sa.Notice("en")
	if _, err := sa.Grant(ctx, &likeness.GrantRequest{SubjectID: sub.ID, Purposes: []string{"ai-training"},
		NoticeVersion: n.Version, NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"}); err != nil {
		t.Fatal(err)
	}
	a, err := va.Ingest(ctx, &vault.Upload{SubjectID: sub.ID, Purpose: "ai-training", Category: "voice", ContentType: "audio/wav",
		Body: bytes.NewReader(newWAVBytes(1000))})
	if err != nil {
		t.Fatal(err)
	}
	since := time.Now().Add(-time.Minute)
	if err := sb.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := vb.SyncAssets(ctx, since); err != nil {
		t.Fatal(err)
	}
	q := &likeness.DecisionRequest{AssetID: a.ID, Purpose: "ai-training"}
	if d, err := sb.Decide(q); err != nil || !d.Allow {
		t.Fatalf("replica B on A's new asset: %+v", d)
	}
	if _, err := va.EraseAsset(ctx, a.ID, "erased_on_request"); err != nil {
		t.Fatal(err)
	}
	if err := vb.SyncAssets(ctx, since); err != nil {
		t.Fatal(err)
	}
	if d, err := sb.Decide(q); err != nil || d.Allow || !d.Reasons.Has(likeness.ReasonAssetErased) {
		t.Fatalf("replica B after A erased the asset: %+v", d)
	}
}

func newWAVBytes(n int64) []byte {
	var b bytes.Buffer
	b.ReadFrom(newWAV(n))
	return b.Bytes()
}
