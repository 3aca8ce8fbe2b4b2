package console

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"likeness"
	"likeness/internal/http/response"
	"likeness/internal/operators"
)

// Operators is what the console needs of named operators; package
// operators implements it. Each call audits itself.
type Operators interface {
	// SignIn returns the operator for a right name, password and TOTP or
	// recovery code; EUNAUTHORIZED or EFORBIDDEN (locked, unconfirmed)
	// otherwise.
	SignIn(ctx context.Context, name, password, code string) (*likeness.Operator, error)
	// Confirm finishes enrolment with the temporary password, a code and
	// a new password.
	Confirm(ctx context.Context, name, password, code, newPassword string) error
	// Active returns the operator if the account still works, else
	// ENOTFOUND.
	Active(ctx context.Context, name string) (*likeness.Operator, error)
}

// operatorCookie holds a named operator's session: name, role and the
// sign-in time. It lasts operators.IdleTimeout and is renewed as the
// operator uses the console, but never past operators.MaxSession after
// sign-in.
const operatorCookie = "likeness_console_op"

func (h *Handler) startOperatorSession(w http.ResponseWriter, r *http.Request, name string, role likeness.OperatorRole, signedIn time.Time) *session {
	ttl := min(operators.IdleTimeout, signedIn.Add(operators.MaxSession).Sub(h.Now()))
	// The sign-in's time, to the microsecond: with the name it names the
	// sign-in (see session.endID), so two must not share it.
	c := h.Jar.Start(w, r, operatorCookie, ttl, name, string(role), strconv.FormatInt(signedIn.UnixMicro(), 10))
	return &session{Role: likeness.Role(role), Operator: name, signedIn: signedIn, Session: c}
}

// operatorSession returns the request's operator session if its cookie is
// ours, idle less than IdleTimeout (the cookie's expiry), younger than
// MaxSession, and the account still works with the same role.
func (h *Handler) operatorSession(r *http.Request) (*session, bool) {
	if h.cfg.Operators == nil {
		return nil, false
	}
	c, ok := h.Jar.Read(r, operatorCookie, 3)
	if !ok {
		return nil, false
	}
	micros, err := strconv.ParseInt(c.Fields[2], 10, 64)
	signedIn := time.UnixMicro(micros)
	if micros < 1e12 { // a cookie of before sign-ins were named to the microsecond: seconds
		signedIn = time.Unix(micros, 0)
	}
	if err != nil || !h.Now().Before(signedIn.Add(operators.MaxSession)) {
		return nil, false
	}
	op, err := h.cfg.Operators.Active(r.Context(), c.Fields[0])
	if err != nil {
		if likeness.ErrorCode(err) != likeness.ENOTFOUND {
			h.Log.Error("console: check operator", "err", err)
		}
		return nil, false
	}
	if string(op.Role) != c.Fields[1] {
		return nil, false
	}
	return &session{Role: likeness.Role(op.Role), Operator: op.Name, signedIn: signedIn, Session: c}, true
}

// renew moves an operator session's idle expiry forward, at most once a
// minute. CSRF tokens are bound to the sign-in, not to the cookie, so
// forms open in other tabs stay valid.
func (h *Handler) renew(w http.ResponseWriter, r *http.Request, s *session) {
	if s == nil || s.Operator == "" || h.Now().Add(operators.IdleTimeout-time.Minute).Before(s.Expires) {
		return
	}
	*s = *h.startOperatorSession(w, r, s.Operator, likeness.OperatorRole(s.Role), s.signedIn)
}

// operatorLogin signs a named operator in with password and code.
func (h *Handler) operatorLogin(w http.ResponseWriter, r *http.Request, again func(int, string)) {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	password, code := r.PostForm.Get("password"), strings.TrimSpace(r.PostForm.Get("code"))
	if name == "" || password == "" || code == "" {
		again(http.StatusBadRequest, "login.error.operator.empty")
		return
	}
	op, err := h.cfg.Operators.SignIn(r.Context(), name, password, code)
	switch likeness.ErrorCode(err) {
	case "":
	case likeness.EUNAUTHORIZED:
		again(http.StatusUnauthorized, "login.error.operator.wrong")
		return
	case likeness.EFORBIDDEN:
		// Locked, disabled or not enrolled: the service's message says which.
		h.render(w, r, nil, http.StatusForbidden, "message", &view{Title: "login.title",
			Data: &messageView{Title: "login.title", Detail: likeness.ErrorMessage(err)}})
		return
	default:
		h.failed(w, r, nil, "operator sign-in", err)
		return
	}
	h.startOperatorSession(w, r, op.Name, op.Role, h.Now())
	http.SetCookie(w, h.Jar.Make(r, preCookie, "", -1))
	h.Log.Info("console: operator signed in", "operator", op.Name, "role", op.Role)
	http.Redirect(w, r, "/console", http.StatusSeeOther)
}

type enrolView struct {
	CSRF   string
	Error  string // a translation key
	Detail string // a user-safe message from the service
	Done   bool
}

func (h *Handler) enrolForm(w http.ResponseWriter, r *http.Request) {
	n := h.loginNonce(w, r)
	h.render(w, r, nil, http.StatusOK, "enrol", &view{Title: "enrol.title", Data: &enrolView{CSRF: h.csrfToken("enrol|" + n)}})
}

// enrol confirms a new operator's second factor and replaces the
// temporary password; until then the account cannot sign in.
func (h *Handler) enrol(w http.ResponseWriter, r *http.Request) {
	c, ok := h.signInForm(w, r, "enrol")
	if !ok {
		return
	}
	v := &enrolView{CSRF: h.csrfToken("enrol|" + c.Value)}
	f := r.PostForm
	err := h.cfg.Operators.Confirm(r.Context(), strings.TrimSpace(f.Get("name")), f.Get("password"), strings.TrimSpace(f.Get("code")), f.Get("new_password"))
	status := http.StatusOK
	switch likeness.ErrorCode(err) {
	case "":
		v.Done = true
	case likeness.EUNAUTHORIZED:
		status, v.Error = http.StatusUnauthorized, "login.error.operator.wrong"
	case likeness.EINVALID, likeness.EFORBIDDEN, likeness.ECONFLICT:
		status, v.Detail = response.Status(err), likeness.ErrorMessage(err)
	default:
		h.failed(w, r, nil, "operator enrolment", err)
		return
	}
	h.render(w, r, nil, status, "enrol", &view{Title: "enrol.title", Data: v})
}
