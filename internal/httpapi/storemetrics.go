package httpapi

import (
	"bytes"
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"likeness"
	"likeness/ledger"
)

// StatsStore is what the store collector reads besides likeness.Store. A
// store without it reports the ledger metrics only. Implementations must be
// safe for concurrent use and answer from a few aggregate queries: they run
// on every scrape.
type StatsStore interface {
	// ForEachOutboxSink calls fn once for each sink that ever claimed a
	// message, with how many messages it has still to deliver, how many
	// it gave up on (dead), and when the oldest message still to deliver
	// was enqueued (zero when none is).
	ForEachOutboxSink(ctx context.Context, fn func(sink string, pending, dead int64, oldestPending time.Time) error) error
	// AssetBytes returns the number of stored, not erased assets and the
	// sum of their sizes in bytes.
	AssetBytes(ctx context.Context) (count, size int64, err error)
}

// DefaultStatsTimeout bounds the store queries of one scrape.
const DefaultStatsTimeout = 3 * time.Second

// storeCollector reads the deployment's state from the store at scrape
// time. A query that fails or times out is logged and its metrics are left
// out of that scrape; likeness_store_stats_up says whether all answered.
type storeCollector struct {
	store   likeness.Store
	stats   StatsStore // nil: no outbox or blob metrics
	timeout time.Duration
	now     func() time.Time
	log     *slog.Logger
}

var (
	descUp = prometheus.NewDesc("likeness_store_stats_up",
		"1 if every store query behind the likeness_outbox_*, likeness_ledger_* and likeness_blob_* metrics answered in time on this scrape, else 0.", nil, nil)
	descPending = prometheus.NewDesc("likeness_outbox_pending",
		"Outbox messages a sink has still to receive (its backlog).", []string{"sink"}, nil)
	descOldest = prometheus.NewDesc("likeness_outbox_oldest_pending_seconds",
		"Age of the oldest outbox message a sink has still to receive; 0 when it has none.", []string{"sink"}, nil)
	descDead = prometheus.NewDesc("likeness_outbox_dead",
		"Outbox deliveries a sink gave up on (dead letters) until an operator retries them.", []string{"sink"}, nil)
	descLedger = prometheus.NewDesc("likeness_ledger_entries",
		"Consent events in the ledger (its Merkle tree size).", nil, nil)
	descCheckpoint = prometheus.NewDesc("likeness_ledger_checkpoint_entries",
		"Tree size of the latest signed ledger checkpoint.", nil, nil)
	descCheckpointAge = prometheus.NewDesc("likeness_ledger_checkpoint_age_seconds",
		"Age of the latest signed ledger checkpoint.", nil, nil)
	descBlobBytes = prometheus.NewDesc("likeness_blob_bytes",
		"Bytes of media stored in the vault (sizes of assets not erased, before encryption).", nil, nil)
	descAssets = prometheus.NewDesc("likeness_assets",
		"Media assets stored in the vault and not erased.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descUp, descPending, descOldest, descDead, descLedger, descCheckpoint, descCheckpointAge, descBlobBytes, descAssets} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	now := c.now()
	up := 1.0
	fail := func(what string, err error) {
		up = 0
		c.log.Warn("metrics: could not read from the store", "what", what, "err", err)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	if n, err := c.store.LedgerSize(ctx); err != nil {
		fail("ledger size", err)
	} else {
		gauge(descLedger, float64(n))
	}
	if size, signed, err := c.store.LatestCheckpoint(ctx); err == nil {
		gauge(descCheckpoint, float64(size))
		if cp, ok := checkpointBody(signed); ok {
			gauge(descCheckpointAge, max(0, now.Sub(likeness.FromMicros(cp.TimeMicros)).Seconds()))
		}
	} else if likeness.ErrorCode(err) != likeness.ENOTFOUND {
		fail("latest checkpoint", err)
	}
	if c.stats != nil {
		err := c.stats.ForEachOutboxSink(ctx, func(sink string, pending, dead int64, oldest time.Time) error {
			age := 0.0
			if pending > 0 && !oldest.IsZero() {
				age = max(0, now.Sub(oldest).Seconds())
			}
			gauge(descPending, float64(pending), sink)
			gauge(descOldest, age, sink)
			gauge(descDead, float64(dead), sink)
			return nil
		})
		if err != nil {
			fail("outbox", err)
		}
		if count, size, err := c.stats.AssetBytes(ctx); err != nil {
			fail("asset sizes", err)
		} else {
			gauge(descAssets, float64(count))
			gauge(descBlobBytes, float64(size))
		}
	}
	gauge(descUp, up)
}

// checkpointBody parses a signed checkpoint's note text without checking
// its signature: the store is this deployment's own, and only its time and
// size are read, for a metric.
func checkpointBody(signed []byte) (ledger.Checkpoint, bool) {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return ledger.Checkpoint{}, false
	}
	cp, err := ledger.ParseCheckpoint(signed[:i+1])
	return cp, err == nil
}
