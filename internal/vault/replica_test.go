package vault_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"likeness"
	"likeness/internal/likenesstest"
	"likeness/internal/storetest"
	"likeness/internal/vault"
)

// Two replicas share a PostgreSQL database, a key file and a blob store. An
// asset erased on one is denied by the other's decisions after it syncs.
func TestAssetErasureReachesAnotherReplica(t *testing.T) {
	ctx := context.Background()
	dsn, dir := storetest.Postgres(t), t.TempDir()
	da := likenesstest.New(t, likenesstest.Options{DSN: dsn, Dir: dir})
	db := likenesstest.New(t, likenesstest.Options{DSN: dsn, Dir: dir, Clock: da.Clock})
	va, sb, vb := da.Vault, db.Consent, db.Vault
	sub := da.Subject(t, "two-replicas", "EU-DE")
	da.Grant(t, sub, "ai-training")
	a, err := va.Ingest(ctx, &vault.Upload{SubjectID: sub, Purpose: "ai-training", Category: "voice", ContentType: "audio/wav",
		Body: bytes.NewReader(newWAVBytes(1000))})
	if err != nil {
		t.Fatal(err)
	}
	since := da.Clock.Now().Add(-time.Minute)
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
