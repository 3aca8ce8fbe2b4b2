package decision

// HasSubject reports whether the index knows the subject (erased or not).
func (e *Engine) HasSubject(id string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	_, ok := e.subjects.get(id)
	return ok
}
