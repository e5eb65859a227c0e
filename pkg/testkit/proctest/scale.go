package proctest

import "fmt"

// Scale is the size of a fault run: Short keeps "go test" within the CI
// budget, Full is the run whose figures are reported.
type Scale struct {
	Full bool
}

// ParseScale accepts "short" and "full".
func ParseScale(s string) (Scale, error) {
	switch s {
	case "short":
		return Scale{}, nil
	case "full":
		return Scale{Full: true}, nil
	}
	return Scale{}, fmt.Errorf("faults.scale %q: must be short or full", s)
}

// Pick returns short or full.
func Pick[T any](s Scale, short, full T) T {
	if s.Full {
		return full
	}
	return short
}

func (s Scale) String() string {
	if s.Full {
		return "full"
	}
	return "short"
}
