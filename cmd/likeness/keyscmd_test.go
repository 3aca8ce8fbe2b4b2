package main

import (
	"context"
	"strings"
	"testing"
)

func TestKeysRetireAfterRotateLeavesNoKeyWrappedByTheOldVersion(t *testing.T) {
	ctx := context.Background()
	f := buildHistory(t, "sqlite")
	store := openTamper(t, f)
	if code, _, errOut := run(t, append([]string{"keys", "retire"}, append(f.flags(), "local-1")...)...); code == 0 || !strings.Contains(errOut, "primary") {
		t.Fatalf("retire of the primary = %d %s, want a refusal", code, errOut)
	}
	oldLookup, err := store.store.Setting(ctx, "lookup_key")
	if err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, append([]string{"keys", "rotate", "--replica-wait", "0"}, f.flags()...)...); code != 0 {
		t.Fatalf("keys rotate = %d\n%s%s", code, out, errOut)
	}

	// A replica that had not yet seen the rotation wrapped a key with local-1.
	if err := store.store.PutSetting(ctx, "lookup_key", oldLookup); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := run(t, append([]string{"keys", "retire"}, append(f.flags(), "local-1")...)...)
	if code == 0 || !strings.Contains(errOut, "1 keys in the database are still wrapped by local-1") {
		t.Fatalf("retire with a key left = %d %s, want a refusal naming how many remain", code, errOut)
	}
	if code, out, errOut := run(t, append([]string{"keys", "rewrap"}, f.flags()...)...); code != 0 || !strings.HasPrefix(out, "rewrapped 1 keys") {
		t.Fatalf("keys rewrap = %d %q %s", code, out, errOut)
	}
	if code, out, errOut := run(t, append([]string{"keys", "retire"}, append(f.flags(), "local-1")...)...); code != 0 {
		t.Fatalf("keys retire = %d\n%s%s", code, out, errOut)
	}

	counts, err := keyVersions(ctx, store.store)
	if err != nil {
		t.Fatal(err)
	}
	if counts["local-1"] != 0 || counts["local-2"] != 6 {
		t.Fatalf("wrapped keys by version after retire: %v, want all 6 under local-2", counts)
	}
	// The deployment still opens, and its keys still work.
	if code, out, errOut := run(t, append([]string{"ledger", "verify"}, f.flags()...)...); code != 0 {
		t.Fatalf("ledger verify after retire = %d\n%s%s", code, out, errOut)
	}
}
