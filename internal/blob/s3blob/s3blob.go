// Package s3blob keeps blobs in S3-compatible object storage (AWS S3,
// MinIO, Ceph, R2, …), for running several likeness replicas.
//
// A blob is one object named by the store's prefix and the blob's key. Puts
// stream: a body that fits in one 8 MiB part is sent with a single
// PutObject, a larger one as a multipart upload read part by part into one
// reused buffer, so memory stays constant whatever the size. S3 makes an
// object visible only when PutObject or CompleteMultipartUpload succeeds; a
// failed or cancelled multipart upload is aborted, so it leaves nothing
// visible. (A bucket lifecycle rule that aborts incomplete multipart uploads
// after a day cleans up after a crash.) On a versioned bucket, Delete
// removes every version and delete marker of the object, not only the
// latest.
package s3blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"likeness/internal/blob"
)

// PartSize is the size of each part of a multipart upload, and the largest
// body sent with a single PutObject.
const PartSize = 8 << 20

// maxParts is S3's limit on parts per upload: blobs up to 80 GB.
const maxParts = 10000

// Store is a blob.Store in an S3 bucket. It is safe for concurrent use.
type Store struct {
	client *s3.Client
	bucket string
	prefix string
}

var _ blob.Store = (*Store)(nil)

// New returns a Store keeping blobs in bucket under prefix. A non-empty
// prefix that does not end in "/" gets one, so "likeness" and "likeness/"
// mean the same folder.
func New(client *s3.Client, bucket, prefix string) *Store {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return &Store{client: client, bucket: bucket, prefix: prefix}
}

// Config says how to reach a bucket with static credentials.
type Config struct {
	// Endpoint is the store's URL, e.g. "http://minio:9000". Empty means
	// AWS S3 itself.
	Endpoint string
	// Region defaults to "us-east-1", which most S3-compatible stores accept.
	Region string
	Bucket string
	// Prefix is prepended to every key, e.g. "likeness/".
	Prefix    string
	AccessKey string
	SecretKey string
	// PathStyle addresses the bucket as endpoint/bucket rather than
	// bucket.endpoint; most self-hosted stores need it.
	PathStyle bool
}

// Open builds a client from cfg and checks that the bucket is reachable
// with the credentials given, so that a misconfiguration fails at start-up.
// For other credential sources (instance roles, SSO), build an *s3.Client
// and call [New].
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Bucket == "" {
		return nil, errors.New("s3blob: no bucket configured")
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("s3blob: access key and secret key are required")
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	opts := s3.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, ""),
		UsePathStyle: cfg.PathStyle,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
		// Most S3-compatible stores reject or mishandle the checksums
		// newer SDKs add to every request by default.
		opts.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		opts.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	}
	client := s3.New(opts)
	if _, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(cfg.Bucket)}); err != nil {
		where := cfg.Endpoint
		if where == "" {
			where = "AWS S3 in " + region
		}
		return nil, fmt.Errorf("s3blob: bucket %q at %s is not reachable with these credentials: %w", cfg.Bucket, where, err)
	}
	return New(client, cfg.Bucket, cfg.Prefix), nil
}

var partPool = sync.Pool{New: func() any { b := make([]byte, PartSize); return &b }}

// Put sends r with one PutObject if it fits in a part, else as a multipart
// upload that is aborted if anything fails.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := blob.ValidKey(key); err != nil {
		return 0, fmt.Errorf("s3blob: put: %w", err)
	}
	bp := partPool.Get().(*[]byte)
	defer partPool.Put(bp)
	buf := *bp
	r = blob.ContextReader(ctx, r)

	n, err := io.ReadFull(r, buf)
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        &s.bucket,
			Key:           aws.String(s.prefix + key),
			Body:          bytes.NewReader(buf[:n]),
			ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return 0, fmt.Errorf("s3blob: put %q: %w", key, err)
		}
		return int64(n), nil
	}
	if err != nil {
		return 0, fmt.Errorf("s3blob: put %q: read: %w", key, err)
	}
	size, err := s.putMultipart(ctx, key, r, buf)
	if err != nil {
		return 0, fmt.Errorf("s3blob: put %q: %w", key, err)
	}
	return size, nil
}

// putMultipart uploads buf, which is full, then the rest of r.
func (s *Store) putMultipart(ctx context.Context, key string, r io.Reader, buf []byte) (size int64, err error) {
	objKey := aws.String(s.prefix + key)
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: objKey})
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			// Abort even when ctx is what failed.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if _, aerr := s.client.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{
				Bucket: &s.bucket, Key: objKey, UploadId: created.UploadId,
			}); aerr != nil {
				err = fmt.Errorf("%w (and aborting the upload failed: %v)", err, aerr)
			}
		}
	}()

	var parts []types.CompletedPart
	n := len(buf)
	for num := int32(1); ; num++ {
		if num > maxParts {
			return 0, fmt.Errorf("blob larger than %d parts of %d bytes", maxParts, PartSize)
		}
		up, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
			Bucket:        &s.bucket,
			Key:           objKey,
			UploadId:      created.UploadId,
			PartNumber:    aws.Int32(num),
			Body:          bytes.NewReader(buf[:n]),
			ContentLength: aws.Int64(int64(n)),
		})
		if err != nil {
			return 0, fmt.Errorf("upload part %d: %w", num, err)
		}
		parts = append(parts, types.CompletedPart{ETag: up.ETag, PartNumber: aws.Int32(num)})
		size += int64(n)

		n, err = io.ReadFull(r, buf)
		if err == io.EOF {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			return 0, fmt.Errorf("read: %w", err)
		}
		// A short read is the last part; upload it next time round.
		if err == io.ErrUnexpectedEOF {
			buf = buf[:n]
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket:          &s.bucket,
		Key:             objKey,
		UploadId:        created.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return 0, fmt.Errorf("complete upload: %w", err)
	}
	return size, nil
}

// Get returns the object's body.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := blob.ValidKey(key); err != nil {
		return nil, fmt.Errorf("s3blob: get: %w", err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: aws.String(s.prefix + key)})
	if isNotFound(err) {
		return nil, fmt.Errorf("s3blob: get %q: %w", key, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("s3blob: get %q: %w", key, err)
	}
	return out.Body, nil
}

// Delete removes the object; S3 reports success for absent objects too. On
// a bucket with versioning it removes every version of the object, so that
// an erased subject's media leaves no older version behind.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.ValidKey(key); err != nil {
		return fmt.Errorf("s3blob: delete: %w", err)
	}
	name := s.prefix + key
	if s.versioned(ctx) {
		if err := s.deleteVersions(ctx, name); err != nil {
			return fmt.Errorf("s3blob: delete %q: %w", key, err)
		}
		return nil
	}
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(name)})
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("s3blob: delete %q: %w", key, err)
	}
	return nil
}

// versioned reports whether the bucket has, or once had, versioning: there
// a plain delete only adds a delete marker and every older version stays
// readable, which would make erasure a lie. A store that cannot say (some
// S3-compatible ones lack the call) is taken as unversioned.
func (s *Store) versioned(ctx context.Context) bool {
	out, err := s.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &s.bucket})
	return err == nil && out.Status != ""
}

// deleteVersions removes every version and delete marker of the object name.
func (s *Store) deleteVersions(ctx context.Context, name string) error {
	p := s3.NewListObjectVersionsPaginator(s.client, &s3.ListObjectVersionsInput{Bucket: &s.bucket, Prefix: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list versions: %w", err)
		}
		var ids []*string
		for _, v := range page.Versions {
			if aws.ToString(v.Key) == name {
				ids = append(ids, v.VersionId)
			}
		}
		for _, m := range page.DeleteMarkers {
			if aws.ToString(m.Key) == name {
				ids = append(ids, m.VersionId)
			}
		}
		for _, id := range ids {
			_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: aws.String(name), VersionId: id})
			if err != nil && !isNotFound(err) {
				return fmt.Errorf("delete version: %w", err)
			}
		}
	}
	return nil
}

// List pages through the objects under the store's prefix and prefix.
// Objects whose names are not valid keys (put there by something else) are
// left out.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	if err := blob.ValidPrefix(prefix); err != nil {
		return nil, fmt.Errorf("s3blob: list: %w", err)
	}
	var keys []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: &s.bucket,
		Prefix: aws.String(s.prefix + prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3blob: list %q: %w", prefix, err)
		}
		for _, o := range page.Contents {
			key, ok := strings.CutPrefix(aws.ToString(o.Key), s.prefix)
			if ok && blob.ValidKey(key) == nil {
				keys = append(keys, key)
			}
		}
	}
	slices.Sort(keys)
	return keys, nil
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return true
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}
