package s3blob

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"likeness/internal/blob"
	"likeness/internal/blob/blobtest"
)

// fakeS3 starts an in-process S3 server; the real SDK talks HTTP to it.
func fakeS3(t *testing.T) Config {
	t.Helper()
	srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
	t.Cleanup(srv.Close)
	return Config{Endpoint: srv.URL, AccessKey: "test", SecretKey: "test", PathStyle: true}
}

var buckets atomic.Int64

// openBucket makes a fresh bucket and opens a Store on it.
func openBucket(t *testing.T, cfg Config) *Store {
	t.Helper()
	ctx := context.Background()
	cfg.Bucket = fmt.Sprintf("bucket-%d", buckets.Add(1))
	if _, err := Open(ctx, cfg); err == nil {
		t.Fatalf("Open succeeded on the missing bucket %q", cfg.Bucket)
	}
	s3c := s3.New(s3.Options{
		Region:                     "us-east-1",
		BaseEndpoint:               aws.String(cfg.Endpoint),
		UsePathStyle:               true,
		Credentials:                aws.AnonymousCredentials{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
	})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestConformance(t *testing.T) {
	cfg := fakeS3(t)
	blobtest.Run(t, func(t *testing.T) blob.Store { return openBucket(t, cfg) })
}

func TestConformanceWithPrefix(t *testing.T) {
	cfg := fakeS3(t)
	cfg.Prefix = "tenant-a"
	blobtest.Run(t, func(t *testing.T) blob.Store { return openBucket(t, cfg) })
}

func TestPrefixIsolatesStores(t *testing.T) {
	cfg := fakeS3(t)
	a := openBucket(t, cfg)
	b := New(a.client, a.bucket, "b/")
	ctx := context.Background()
	if _, err := a.Put(ctx, "x", strings.NewReader("in root")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(ctx, "y", strings.NewReader("under b/")); err != nil {
		t.Fatal(err)
	}
	keys, err := b.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(keys, []string{"y"}) {
		t.Fatalf("prefixed store lists %q, want [y]", keys)
	}
	if _, err := b.Get(ctx, "x"); err == nil {
		t.Fatal("prefixed store reads a blob outside its prefix")
	}
}

func TestOpenChecksConfig(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, Config{AccessKey: "k", SecretKey: "s"}); err == nil {
		t.Error("Open without a bucket succeeded")
	}
	if _, err := Open(ctx, Config{Bucket: "b"}); err == nil {
		t.Error("Open without credentials succeeded")
	}
}

type failingBody struct{ left int }

func (f *failingBody) Read(p []byte) (int, error) {
	if f.left == 0 {
		return 0, fmt.Errorf("client went away")
	}
	n := min(len(p), f.left)
	clear(p[:n])
	f.left -= n
	return n, nil
}

func TestFailedMultipartUploadIsAborted(t *testing.T) {
	s := openBucket(t, fakeS3(t))
	ctx := context.Background()
	if _, err := s.Put(ctx, "big", &failingBody{left: 2*PartSize + 100}); err == nil {
		t.Fatal("Put with a failing body succeeded")
	}
	out, err := s.client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &s.bucket})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Uploads) != 0 {
		t.Fatalf("%d multipart uploads left open, want 0", len(out.Uploads))
	}
}

// TestConformanceRealS3 runs the suite against a real store when
// LIKENESS_TEST_S3_BUCKET is set (with LIKENESS_TEST_S3_ENDPOINT,
// _REGION, _ACCESS_KEY, _SECRET_KEY and _PATH_STYLE=1 as needed). Each
// subtest works under its own prefix and deletes what it leaves.
func TestConformanceRealS3(t *testing.T) {
	bucket := os.Getenv("LIKENESS_TEST_S3_BUCKET")
	if bucket == "" {
		t.Skip("LIKENESS_TEST_S3_BUCKET not set")
	}
	cfg := Config{
		Endpoint:  os.Getenv("LIKENESS_TEST_S3_ENDPOINT"),
		Region:    os.Getenv("LIKENESS_TEST_S3_REGION"),
		Bucket:    bucket,
		AccessKey: os.Getenv("LIKENESS_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("LIKENESS_TEST_S3_SECRET_KEY"),
		PathStyle: os.Getenv("LIKENESS_TEST_S3_PATH_STYLE") == "1",
	}
	run := time.Now().UnixNano()
	blobtest.Run(t, func(t *testing.T) blob.Store {
		c := cfg
		c.Prefix = fmt.Sprintf("likeness-test/%d/%d/", run, buckets.Add(1))
		s, err := Open(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx := context.Background()
			keys, _ := s.List(ctx, "")
			for _, k := range keys {
				s.Delete(ctx, k)
			}
		})
		return s
	})
}

func TestDeleteOnAVersionedBucketRemovesEveryVersion(t *testing.T) {
	ctx := context.Background()
	s := openBucket(t, fakeS3(t))
	if _, err := s.client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &s.bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"first", "second", "third"} {
		if _, err := s.Put(ctx, "assets/a1", strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Put(ctx, "assets/a10", strings.NewReader("neighbour")); err != nil {
		t.Fatal(err)
	}
	versions := func(name string) int {
		out, err := s.client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &s.bucket, Prefix: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range out.Versions {
			if aws.ToString(v.Key) == name {
				n++
			}
		}
		for _, m := range out.DeleteMarkers {
			if aws.ToString(m.Key) == name {
				n++
			}
		}
		return n
	}
	if n := versions("assets/a1"); n != 3 {
		t.Fatalf("before delete: %d versions, want 3 (is versioning on?)", n)
	}
	if err := s.Delete(ctx, "assets/a1"); err != nil {
		t.Fatal(err)
	}
	if n := versions("assets/a1"); n != 0 {
		t.Fatalf("after delete: %d versions or delete markers left, want none", n)
	}
	if n := versions("assets/a10"); n != 1 {
		t.Fatalf("a key sharing the prefix lost versions: %d left, want 1", n)
	}
}
