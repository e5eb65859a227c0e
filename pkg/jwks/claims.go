package jwks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Errors of TimeClaims.Check.
var (
	ErrTimeClaim   = errors.New("token time claim malformed")
	ErrNoExpiry    = errors.New("token has no exp")
	ErrExpired     = errors.New("token expired")
	ErrNotYetValid = errors.New("token not yet valid")
)

// TimeClaims are a JWT's exp, nbf and iat, kept raw so that their JSON
// type is checked: RFC 7519 NumericDate is a JSON number, and a string
// ("exp": "9999999999") is refused, not converted.
type TimeClaims struct {
	Exp json.RawMessage `json:"exp"`
	Nbf json.RawMessage `json:"nbf"`
	Iat json.RawMessage `json:"iat"`
}

// Times are the decoded time claims; zero when absent.
type Times struct {
	Exp, Nbf, Iat time.Time
}

// Check requires exp, requires every present time claim to be a
// non-negative JSON number, and checks them against now with skew: exp in
// the future, nbf and iat not in the future.
func (tc TimeClaims) Check(now time.Time, skew time.Duration) (Times, error) {
	t, err := tc.Decode()
	if err != nil {
		return t, err
	}
	return t, t.Check(now, skew)
}

// Decode requires exp and every present time claim to be a non-negative
// JSON number; it does not look at the clock (Times.Check does).
func (tc TimeClaims) Decode() (Times, error) {
	var t Times
	var err error
	if t.Exp, err = NumericDate("exp", tc.Exp); err != nil {
		return t, err
	}
	if t.Exp.IsZero() {
		return t, ErrNoExpiry
	}
	if t.Nbf, err = NumericDate("nbf", tc.Nbf); err != nil {
		return t, err
	}
	if t.Iat, err = NumericDate("iat", tc.Iat); err != nil {
		return t, err
	}
	return t, nil
}

// Check checks decoded times against now with skew: exp in the future,
// nbf and iat (when present) not in the future.
func (t Times) Check(now time.Time, skew time.Duration) error {
	if !now.Before(t.Exp.Add(skew)) {
		return ErrExpired
	}
	if !t.Nbf.IsZero() && t.Nbf.After(now.Add(skew)) {
		return fmt.Errorf("%w: nbf in the future", ErrNotYetValid)
	}
	if !t.Iat.IsZero() && t.Iat.After(now.Add(skew)) {
		return fmt.Errorf("%w: iat in the future", ErrNotYetValid)
	}
	return nil
}

// NumericDate decodes a JWT NumericDate: absent (or JSON null) gives the
// zero time; anything but a non-negative JSON number up to year 5138 is
// ErrTimeClaim.
func NumericDate(name string, raw json.RawMessage) (time.Time, error) {
	raw = bytes.Trim(raw, " \t\r\n") // JSON whitespace only
	if len(raw) == 0 || string(raw) == "null" {
		return time.Time{}, nil
	}
	if c := raw[0]; c != '-' && (c < '0' || c > '9') {
		return time.Time{}, fmt.Errorf("%w: %s is not a JSON number", ErrTimeClaim, name)
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || math.IsNaN(f) || f < 0 || f > 1e11 {
		return time.Time{}, fmt.Errorf("%w: %s is out of range", ErrTimeClaim, name)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
}
