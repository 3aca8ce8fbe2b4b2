// Package route holds Route, the shape in which every package that serves
// part of the JSON API hands its endpoints to the API server: a method, a
// pattern, the roles that may call it and a handler that returns an error
// for the server to answer with.
package route

import (
	"net/http"

	"likeness"
)

// Route is one endpoint: the roles listed may call it; nil Roles means a
// public endpoint that needs no key. Handler's error is answered through
// the response package's one status table.
type Route struct {
	Method, Pattern string
	Roles           []likeness.Role
	Handler         func(http.ResponseWriter, *http.Request) error
}
