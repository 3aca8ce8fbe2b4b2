package main

import (
	"context"
	"fmt"
	"io"

	"likeness"
	"likeness/policy"
)

// loadDemo creates synthetic subjects with consents spread over the
// example policy's purposes.
func loadDemo(ctx context.Context, d *deployment, n int, stdout io.Writer) error {
	if d.policy.Name == "default" {
		d.policy = policy.Example()
		if err := d.notices.SetPolicy(ctx, d.policy); err != nil {
			return err
		}
	}
	ctx = likeness.WithActor(ctx, likeness.Actor{KeyID: "demo", Role: likeness.RoleAdmin})
	jurisdictions := []string{"EU-DE", "EU-FR", "US-CA", "US-IL", "GB"}
	fmt.Fprintf(stdout, "Loading %d synthetic subjects…\n", n)
	for i := range n {
		j := jurisdictions[i%len(jurisdictions)]
		sub, _, err := d.subjects.CreateSubject(ctx, fmt.Sprintf("demo-user-%d", i), "en", j)
		if err != nil {
			return err
		}
		var purposes []string
		for k, id := range d.policy.PurposeIDs {
			if (i+k)%3 != 0 {
				purposes = append(purposes, id)
			}
		}
		if len(purposes) == 0 {
			continue
		}
		n, err := d.notices.Notice("en")
		if err != nil {
			return err
		}
		req := &likeness.GrantRequest{SubjectID: sub.ID, Purposes: purposes, NoticeVersion: n.Version,
			NoticeSHA256: n.SHA256, Method: likeness.Checkbox, Language: "en"}
		if j == "US-IL" {
			req.Method, req.Evidence = likeness.Written, map[string]string{"signature": fmt.Sprintf("Demo Person %d", i)}
		}
		if _, err := d.consent.Grant(ctx, req); err != nil {
			return err
		}
	}
	return nil
}

func printDemo(w io.Writer, url, token string, d *deployment) {
	ctx := context.Background()
	sub, err := d.subjects.SubjectByExternalID(ctx, "demo-user-1")
	if err != nil {
		return
	}
	purpose := d.policy.PurposeIDs[0]
	category := d.policy.Purposes[purpose].Data[0]
	fmt.Fprintf(w, `likeness demo is running at %s

Try it (subject %s, jurisdiction %s, who consented to %q):

  # allow: consented purpose and category
  curl -s -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"subject_id":"%s","purpose":"%s","data_category":"%s"}' %s/v1/decisions

  # deny: a data category the purpose does not cover
  curl -s -H 'Authorization: Bearer %s' -H 'Content-Type: application/json' \
    -d '{"subject_id":"%s","purpose":"%s","data_category":"transcript"}' %s/v1/decisions

  # withdraw, then run the first line again: it now denies with "withdrawn"
  curl -s -X POST -H 'Authorization: Bearer %s' %s/v1/subjects/%s/consents/%s/withdraw

`, url, sub.ID, sub.Jurisdiction, purpose, token, sub.ID, purpose, category, url, token, sub.ID, purpose, url, token, url, sub.ID, purpose)
}
