package storetest

import (
	"context"
	"testing"
	"time"

	"likeness"
)

func init() {
	tests = append(tests,
		Test{"OperatorRoundTripsAndNamesAreUnique", testOperatorRoundTrip},
		Test{"OperatorTOTPStepIsAcceptedOnce", testOperatorStep},
		Test{"RecoveryCodeWorksOnce", testRecoveryCodeOnce},
		Test{"AccessEntryKeepsOperatorAndReason", testAccessOperatorReason},
	)
}

func newOperator(t *testing.T, s likeness.Store, name string, codes ...[]byte) *likeness.Operator {
	t.Helper()
	op := &likeness.Operator{Name: name, Role: likeness.OperatorReviewer, PasswordHash: "$argon2id$x", TOTPSealed: []byte("sealed"), CreatedAt: t0}
	if err := s.InsertOperator(context.Background(), op, codes); err != nil {
		t.Fatal(err)
	}
	return op
}

func testOperatorRoundTrip(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	op := newOperator(t, s, "alice")
	if err := s.InsertOperator(ctx, op, nil); likeness.ErrorCode(err) != likeness.ECONFLICT {
		t.Fatalf("second insert of alice: %v; want ECONFLICT", err)
	}
	if _, err := s.Operator(ctx, "bob"); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("Operator(bob) = %v; want ENOTFOUND", err)
	}
	op.Role, op.TOTPConfirmed, op.Failures, op.LockedUntil = likeness.OperatorPrivacyOfficer, true, 3, t0.Add(15*time.Minute)
	if err := s.UpdateOperator(ctx, op); err != nil {
		t.Fatal(err)
	}
	got, err := s.Operator(ctx, "alice")
	if err != nil || got.Role != op.Role || !got.TOTPConfirmed || got.Failures != 3 || !got.LockedUntil.Equal(op.LockedUntil) ||
		string(got.TOTPSealed) != "sealed" || got.PasswordHash != op.PasswordHash || !got.CreatedAt.Equal(t0) || !got.DisabledAt.IsZero() {
		t.Fatalf("Operator(alice) = %+v, %v; want %+v", got, err, op)
	}
	if err := s.UpdateOperator(ctx, &likeness.Operator{Name: "bob"}); likeness.ErrorCode(err) != likeness.ENOTFOUND {
		t.Fatalf("UpdateOperator(bob) = %v; want ENOTFOUND", err)
	}
	newOperator(t, s, "aaron")
	all, err := s.Operators(ctx)
	if err != nil || len(all) != 2 || all[0].Name != "aaron" || all[1].Name != "alice" {
		t.Fatalf("Operators = %v, %v; want aaron, alice", all, err)
	}
}

func testOperatorStep(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	newOperator(t, s, "carol")
	for _, c := range []struct {
		step int64
		want bool
	}{{100, true}, {100, false}, {99, false}, {101, true}} {
		if ok, err := s.AcceptOperatorStep(ctx, "carol", c.step); err != nil || ok != c.want {
			t.Fatalf("AcceptOperatorStep(%d) = %v, %v; want %v", c.step, ok, err, c.want)
		}
	}
	if got, _ := s.Operator(ctx, "carol"); got.TOTPStep != 101 {
		t.Fatalf("stored step = %d; want 101", got.TOTPStep)
	}
}

func testRecoveryCodeOnce(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	newOperator(t, s, "dave", []byte("h1"), []byte("h2"))
	if ok, err := s.UseRecoveryCode(ctx, "dave", []byte("h1"), t0); err != nil || !ok {
		t.Fatalf("first use = %v, %v; want true", ok, err)
	}
	if ok, err := s.UseRecoveryCode(ctx, "dave", []byte("h1"), t0); err != nil || ok {
		t.Fatalf("second use = %v, %v; want false", ok, err)
	}
	if ok, _ := s.UseRecoveryCode(ctx, "eve", []byte("h2"), t0); ok {
		t.Fatal("another operator's name used dave's code")
	}
	if n, err := s.UnusedRecoveryCodes(ctx, "dave"); err != nil || n != 1 {
		t.Fatalf("unused = %d, %v; want 1", n, err)
	}
	if err := s.ReplaceRecoveryCodes(ctx, "dave", [][]byte{[]byte("h3"), []byte("h4"), []byte("h5")}); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.UnusedRecoveryCodes(ctx, "dave"); n != 3 {
		t.Fatalf("unused after replace = %d; want 3", n)
	}
	if ok, _ := s.UseRecoveryCode(ctx, "dave", []byte("h2"), t0); ok {
		t.Fatal("a replaced code still works")
	}
}

func testAccessOperatorReason(t *testing.T, s likeness.Store) {
	ctx := context.Background()
	sub := NewSubject(t, s, "ext-operator-reason")
	e := &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: t0, Action: "content", Role: likeness.RoleAdmin, SubjectID: sub.ID,
		AssetID: "ast_x", Purpose: "p", Allow: true, Operator: "alice", Reason: "ticket 42: complaint about the recording"}
	if err := s.AppendAccess(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := s.SubjectAccessLog(ctx, sub.ID, 10)
	if err != nil || len(got) != 1 || got[0].Operator != "alice" || got[0].Reason != e.Reason {
		t.Fatalf("SubjectAccessLog = %+v, %v; want operator alice and the reason", got, err)
	}
}
