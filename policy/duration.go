package policy

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Duration is a calendar period such as a retention or a renewal interval.
// It is kept in calendar units, not nanoseconds, because "12mo" from
// 31 January is not a fixed number of hours.
type Duration struct{ Years, Months, Days int }

var (
	_ yaml.Unmarshaler = (*Duration)(nil)
	_ yaml.Marshaler   = Duration{}
	_ json.Marshaler   = Duration{}
	_ json.Unmarshaler = (*Duration)(nil)
)

// maxApproxDays bounds a Duration so that Approx cannot overflow
// time.Duration (about 292 years). No declaration needs more.
const maxApproxDays = 200 * 365

// ParseDuration parses the short form used in likeness.yaml: a positive or
// zero whole number followed by a unit, "d" (days), "w" (weeks, stored as
// 7 days), "mo" (months) or "y" (years), e.g. "90d", "6w", "12mo", "3y".
// Units may be combined largest first ("1y6mo"), each at most once.
func ParseDuration(s string) (Duration, error) {
	bad := fmt.Errorf("%q is not a duration (use 90d, 12mo or 3y)", s)
	if s == "" {
		return Duration{}, bad
	}
	var d Duration
	rest := s
	last := 0 // rank of the last unit seen; units must go y(4) mo(3) w(2) d(1)
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 {
			return Duration{}, bad
		}
		n, _ := strconv.Atoi(rest[:i])
		rest = rest[i:]
		var rank int
		switch {
		case strings.HasPrefix(rest, "mo"):
			rank, rest = 3, rest[2:]
			d.Months = n
		case strings.HasPrefix(rest, "y"):
			rank, rest = 4, rest[1:]
			d.Years = n
		case strings.HasPrefix(rest, "w"):
			rank, rest = 2, rest[1:]
			d.Days += 7 * n
		case strings.HasPrefix(rest, "d"):
			rank, rest = 1, rest[1:]
			d.Days += n
		default:
			return Duration{}, bad
		}
		if last != 0 && rank >= last {
			return Duration{}, bad
		}
		last = rank
	}
	if d.Years*365+d.Months*30+d.Days > maxApproxDays {
		return Duration{}, fmt.Errorf("%q is too long (at most 200 years)", s)
	}
	return d, nil
}

// AddTo returns t plus d, with time.Time.AddDate's normalisation
// (2026-01-31 plus 1mo is 2026-03-03).
func (d Duration) AddTo(t time.Time) time.Time { return t.AddDate(d.Years, d.Months, d.Days) }

// IsZero reports whether d is the zero period (an absent optional duration).
func (d Duration) IsZero() bool { return d == Duration{} }

// String returns the short form that ParseDuration reads back, e.g. "12mo",
// "1y6mo" or "42d"; the zero Duration is "0d".
func (d Duration) String() string {
	if d.IsZero() {
		return "0d"
	}
	var b strings.Builder
	if d.Years != 0 {
		fmt.Fprintf(&b, "%dy", d.Years)
	}
	if d.Months != 0 {
		fmt.Fprintf(&b, "%dmo", d.Months)
	}
	if d.Days != 0 {
		fmt.Fprintf(&b, "%dd", d.Days)
	}
	return b.String()
}

// Approx returns d as a fixed length for comparisons only, counting a year
// as 365 days and a month as 30 days. Use AddTo for deadlines.
func (d Duration) Approx() time.Duration {
	return time.Duration(d.Years*365+d.Months*30+d.Days) * 24 * time.Hour
}

// Human renders d for people in lang ("de" or, for anything else, English):
// "3 years", "3 Jahre", "1 year and 6 months".
func (d Duration) Human(lang string) string {
	type unit struct {
		n              int
		one, many      string
		einz, mehrzahl string
	}
	units := []unit{
		{d.Years, "year", "years", "Jahr", "Jahre"},
		{d.Months, "month", "months", "Monat", "Monate"},
		{d.Days, "day", "days", "Tag", "Tage"},
	}
	de := lang == "de"
	var parts []string
	for _, u := range units {
		if u.n == 0 {
			continue
		}
		word := u.many
		switch {
		case de && u.n == 1:
			word = u.einz
		case de:
			word = u.mehrzahl
		case u.n == 1:
			word = u.one
		}
		parts = append(parts, fmt.Sprintf("%d %s", u.n, word))
	}
	if len(parts) == 0 {
		if de {
			return "0 Tage"
		}
		return "0 days"
	}
	and := " and "
	if de {
		and = " und "
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + and + parts[len(parts)-1]
}

// UnmarshalYAML reads the short form from a YAML scalar.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a single value like 90d, 12mo or 3y", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the short form.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// MarshalJSON writes the short form as a JSON string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads the short form from a JSON string; "" and null give
// the zero Duration.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = Duration{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"90d\": %w", err)
	}
	if s == "" {
		*d = Duration{}
		return nil
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}
