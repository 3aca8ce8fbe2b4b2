package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"likeness"
)

// cliActor is who the audit log and dataset records name for commands run
// on the server itself, which need no API key.
var cliActor = likeness.Actor{KeyID: "cli", Role: likeness.RoleAdmin}

// recordCLI puts an operator's command in the audit log, as the API does
// for its calls. A command that cannot be recorded says so.
func recordCLI(ctx context.Context, store likeness.AuditStore, stderr io.Writer, action, subjectID string) {
	e := &likeness.AccessEntry{ID: likeness.NewID("acc"), Time: time.Now().UTC(), Action: "cli: likeness " + action,
		KeyID: cliActor.KeyID, Role: cliActor.Role, SubjectID: subjectID, Allow: true}
	if err := store.AppendAccess(context.WithoutCancel(ctx), e); err != nil {
		fmt.Fprintf(stderr, "warning: could not record %q in the audit log: %v\n", action, err)
	}
}
