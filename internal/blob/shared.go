package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// MarkerSetting names the database setting that holds the blob store's
// marker: the token of the first replica that wrote one.
const MarkerSetting = "blob_store_marker"

// markerPrefix holds one marker blob per token. A marker reveals nothing:
// it is a random token, readable by anyone who can read the store anyway.
const markerPrefix = "likeness-marker/"

// Settings is the part of the database CheckShared needs: a value set once
// and agreed on by every replica (likeness.SettingStore implements it).
type Settings interface {
	// InitSetting stores value unless name is set, and returns the stored
	// value either way.
	InitSetting(ctx context.Context, name string, value []byte) ([]byte, error)
	// PutSetting stores value under name, replacing any value there.
	PutSetting(ctx context.Context, name string, value []byte) error
}

// ErrNotShared is returned (wrapped) by CheckShared when this process
// cannot read the marker another replica of the deployment wrote: its blob
// store is not the one the database's assets live in. Serving would answer
// 500 for every asset uploaded elsewhere, so the caller refuses to start.
var ErrNotShared = errors.New("blob: this blob store is not the deployment's shared one")

// CheckShared proves that s is the blob store every replica on the
// database uses. It writes a marker under a fresh random token, then
// records that token in the database unless one is there already; when
// another replica's token is there, its marker must be readable here with
// the same bytes. Writing before recording means a marker named in the
// database always exists in the shared store, however replicas race.
//
// With adopt set, a store that lacks the recorded marker (a replaced or
// restored store) becomes the deployment's store instead of an error.
func CheckShared(ctx context.Context, s Store, db Settings, adopt bool) error {
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	mine := []byte(hex.EncodeToString(raw))
	if _, err := s.Put(ctx, markerPrefix+string(mine), bytes.NewReader(mine)); err != nil {
		return fmt.Errorf("blob: write marker: %w", err)
	}
	stored, err := db.InitSetting(ctx, MarkerSetting, mine)
	if err != nil {
		return fmt.Errorf("blob: record marker: %w", err)
	}
	if bytes.Equal(stored, mine) {
		return nil
	}
	// Another replica came first: its marker must be here too.
	err = readMarker(ctx, s, stored)
	if err != nil && adopt {
		return db.PutSetting(ctx, MarkerSetting, mine)
	}
	// Ours is not needed.
	s.Delete(context.WithoutCancel(ctx), markerPrefix+string(mine))
	return err
}

func readMarker(ctx context.Context, s Store, token []byte) error {
	if ValidKey(markerPrefix+string(token)) != nil {
		return fmt.Errorf("%w: the recorded marker is not a valid key", ErrNotShared)
	}
	rc, err := s.Get(ctx, markerPrefix+string(token))
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("%w: the marker another replica wrote is not in it", ErrNotShared)
	}
	if err != nil {
		return fmt.Errorf("blob: read marker: %w", err)
	}
	defer rc.Close()
	got, err := io.ReadAll(io.LimitReader(rc, 256))
	if err != nil {
		return fmt.Errorf("blob: read marker: %w", err)
	}
	if !bytes.Equal(got, token) {
		return fmt.Errorf("%w: the marker in it differs from the one the database records", ErrNotShared)
	}
	return nil
}
