package anonymize

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestTheSlotIsLaidOutAsItsWalkReadsIt: runSlots reads and writes a slot's
// fields at the offsets internal/walkgen was written for.
func TestTheSlotIsLaidOutAsItsWalkReadsIt(t *testing.T) {
	var s slot
	for _, f := range []struct {
		name      string
		got, want uintptr
	}{
		{"at", unsafe.Offsetof(s.at), 0},
		{"sum", unsafe.Offsetof(s.sum), 64},
		{"offs", unsafe.Offsetof(s.offs), 128},
		{"turned", unsafe.Offsetof(s.turned), 640},
		{"pred", unsafe.Offsetof(s.pred), 648},
		{"thr", unsafe.Offsetof(s.thr), 656},
		{"pix", unsafe.Offsetof(s.pix), 664},
		{"n", unsafe.Offsetof(s.n), 672},
		{"size", unsafe.Offsetof(s.size), 676},
		{"stride", unsafe.Offsetof(s.stride), 680},
		{"tree", unsafe.Offsetof(s.tree), 684},
		{"the whole slot", unsafe.Sizeof(s), 704},
	} {
		if f.got != f.want {
			t.Errorf("%s at byte %d, runSlots reads it at %d", f.name, f.got, f.want)
		}
	}
}

// TestWindowsInSlotsScoreAsOneAtATime: the second look's windows, run four
// groups of any probes at a time (see slots), are accepted exactly when the
// plain one-window-at-a-time cascade accepts them, with exactly its scores:
// probes of one window to the whole image, repeats kept, in many sizes and
// turns, queued in an order that mixes them.
func TestWindowsInSlotsScoreAsOneAtATime(t *testing.T) {
	c := vectorCascade(t)
	_, g, b := smallFace(t)
	l := level{pix: g, w: b.Dx(), h: b.Dy(), stride: b.Dx(), scale: 1}
	r := rand.New(rand.NewPCG(11, 12))
	type hit struct {
		size, deg int
		x, y, q   float64
	}
	var want, got []hit
	sl := &slots{c: c}
	for _, size := range []int{24, 31, 40, 52, 64} {
		for _, deg := range []int{0, 10, 30, 180, 350} {
			a := float64(deg) * math.Pi / 180
			ref := c.window(size, l.stride, pose{angle: a}, nil)
			var all []int
			for y := ref.reach; y < l.h-ref.reach; y++ {
				for x := ref.reach; x < l.w-ref.reach; x++ {
					all = append(all, y*l.stride+x)
				}
			}
			for _, n := range []int{1, 5, 16, 17, 40, len(all)} {
				at := make([]int, n)
				for j := range at {
					at[j] = all[r.IntN(len(all))]
				}
				if n == len(all) {
					at = all
				}
				sl.add(l, probe{scale: 1, size: size, deg: deg}, at)
				for _, p := range at {
					if q := scoreOne(ref, g, p); q > 0 {
						x, y := l.centre(int32(p))
						want = append(want, hit{size, deg, x, y, float64(q)})
					}
				}
			}
		}
	}
	sl.drain()
	for _, d := range sl.out {
		got = append(got, hit{int(d.size), int(math.Round(d.angle * 180 / math.Pi)), d.x, d.y, float64(d.q)})
	}
	order := func(a, b hit) int {
		return cmp.Or(cmp.Compare(a.size, b.size), cmp.Compare(a.deg, b.deg), cmp.Compare(a.y, b.y),
			cmp.Compare(a.x, b.x), cmp.Compare(a.q, b.q))
	}
	slices.SortFunc(want, order)
	slices.SortFunc(got, order)
	if len(want) == 0 {
		t.Fatal("no window accepted at all: the comparison proves nothing")
	}
	if !slices.Equal(got, want) {
		t.Fatalf("slots accepted %d windows, one at a time %d; first of each: %v, %v", len(got), len(want), got[:min(3, len(got))], want[:min(3, len(want))])
	}
	t.Logf("%d windows accepted by both", len(want))
}

// TestRunSlotsStepsEachSlotAsItsOwnTreesWould checks runSlots against each
// slot run alone (runTreesTurned, tree by tree, itself checked against the
// compiled trees): four slots of random probes, lengths and first trees on
// the sample portrait, run in step until one is done, must end with the
// same windows, sums and next trees.
func TestRunSlotsStepsEachSlotAsItsOwnTreesWould(t *testing.T) {
	c := vectorCascade(t)
	_, g, b := smallFace(t)
	l := level{pix: g, w: b.Dx(), h: b.Dy(), stride: b.Dx(), scale: 1}
	r := rand.New(rand.NewPCG(1, 2))
	var turneds [slotCount][]int32
	for iter := range 300 {
		var s, want [slotCount]slot
		for k := range slotCount {
			size := []int{24, 31, 40, 52, 64}[r.IntN(5)]
			deg := []int{0, 10, 30, 180, 350}[r.IntN(5)]
			a := float64(deg) * math.Pi / 180
			turned := c.turned(pose{angle: a})
			turneds[k] = turned
			reach := reachOf(size, a)
			n := 1 + r.IntN(16)
			tr := r.IntN(3)
			s[k] = slot{turned: &turned[0], pred: &c.pred[0], thr: &c.thr[0], pix: &l.pix[0], n: int32(n), size: int32(size), stride: int32(l.stride), tree: int32(tr)}
			for j := range n {
				s[k].at[j] = int32((reach+r.IntN(l.h-2*reach))*l.stride + reach + r.IntN(l.w-2*reach))
			}
		}
		want = s
		for done := false; !done; {
			for k := range slotCount {
				w := &want[k]
				tt := int(w.tree)
				w.n = int32(runTreesTurned(&turneds[k][tt*256], w.size, w.stride, &l.pix[0], &c.pred[tt*64], &c.thr[tt], 1, &w.at[0], &w.sum[0], int(w.n)))
				w.tree++
				if w.n == 0 || int(w.tree) == c.trees() {
					done = true
				}
			}
		}
		runSlots(&s, c.trees())
		for k := range slotCount {
			if s[k].n != want[k].n || s[k].tree != want[k].tree || !slices.Equal(s[k].at[:s[k].n], want[k].at[:want[k].n]) || !slices.Equal(s[k].sum[:s[k].n], want[k].sum[:want[k].n]) {
				t.Fatalf("run %d, slot %d: %d windows before tree %d, %v; alone, %d before tree %d, %v", iter, k, s[k].n, s[k].tree, s[k].at[:s[k].n], want[k].n, want[k].tree, want[k].at[:want[k].n])
			}
		}
	}
}
