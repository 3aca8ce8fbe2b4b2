package sqlstore

// SetBeforeInsert makes the group committer call f between its erasure
// fence and its insert, so a test can change the database in between.
func (d *DB) SetBeforeInsert(f func()) { d.beforeInsert = f }
