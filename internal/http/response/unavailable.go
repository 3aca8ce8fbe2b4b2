package response

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net"
	"strings"

	"likeness"
)

// unavailableMessage is what a client sees when storage cannot be reached.
const unavailableMessage = "storage is unavailable; retry shortly"

// sqlStater is implemented by PostgreSQL errors (pgx's *pgconn.PgError);
// declaring it here keeps the driver out of this package.
type sqlStater interface{ SQLState() string }

// Unavailable reports whether err is storage trouble a client should retry
// rather than a fault: a dropped or refused connection, a closed pool
// connection, a deadline that ran out while waiting for the database, or a
// PostgreSQL server that is shutting down or restarting (SQLSTATE class 08,
// 57P01-57P03). An error that carries a likeness.Error or DeniedError keeps
// its own code and is never reclassified.
func Unavailable(err error) bool {
	if err == nil || hasDomainError(err) {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var st sqlStater
	if errors.As(err, &st) {
		switch code := st.SQLState(); {
		case strings.HasPrefix(code, "08"), code == "57P01", code == "57P02", code == "57P03":
			return true
		}
	}
	var ne net.Error
	return errors.As(err, &ne)
}

func hasDomainError(err error) bool {
	var e *likeness.Error
	var d *likeness.DeniedError
	return errors.As(err, &e) || errors.As(err, &d)
}

// code is err's likeness code, with storage trouble read as EUNAVAILABLE.
func code(err error) string {
	if Unavailable(err) {
		return likeness.EUNAVAILABLE
	}
	return likeness.ErrorCode(err)
}

// message is err's user-facing message (see code).
func message(err error) string {
	if Unavailable(err) {
		return unavailableMessage
	}
	return likeness.ErrorMessage(err)
}
