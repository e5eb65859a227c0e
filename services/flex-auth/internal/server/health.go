package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/stellaops/authgate/pkg/policy"
)

// Health is the body of GET /healthz.
type Health struct {
	// Status is "ok", or "degraded" when the last reload failed or the
	// decision log's last write failed (the service still answers).
	Status   string         `json:"status"`
	Registry HealthRegistry `json:"registry"`
	Policy   HealthPolicy   `json:"policy"`
	// Packages lists every loaded package (Policy is the first).
	Packages    []HealthPackage  `json:"packages"`
	Data        *HealthData      `json:"data,omitempty"`
	Reload      HealthReload     `json:"reload"`
	DecisionLog HealthDecisonLog `json:"decision_log"`
}

// HealthRegistry describes the active registry snapshot.
type HealthRegistry struct {
	Digest string `json:"digest"`
	Actors int    `json:"actors"`
}

// HealthPolicy describes the active policy package.
type HealthPolicy struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	Backend string `json:"backend"`
}

// HealthPackage describes one loaded package and what it decides.
type HealthPackage struct {
	HealthPolicy
	File    string          `json:"file"`
	Request string          `json:"request"`
	Decides *policy.Decides `json:"decides,omitempty"`
}

// HealthData describes the entity data document.
type HealthData struct {
	Digest    string `json:"digest"`
	Subjects  int    `json:"subjects"`
	Resources int    `json:"resources"`
}

// HealthReload describes the reloads so far.
type HealthReload struct {
	LastReload  time.Time  `json:"last_reload"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	Reloads     int64      `json:"reloads"`
	Failures    int64      `json:"failures"`
}

// HealthDecisonLog describes the decision log.
type HealthDecisonLog struct {
	Sync        string     `json:"sync"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

func (s *Server) health(c echo.Context) error {
	v := s.deps.Engine.View()
	p, st := v.Set, v.Status
	h := Health{
		Status:   "ok",
		Registry: HealthRegistry{Digest: p.Snapshot.Digest(), Actors: p.Snapshot.Len()},
		Policy: HealthPolicy{Package: p.First.Name(), Version: p.First.Version(),
			Digest: p.First.Digest(), Backend: p.First.Backend()},
		Reload:      HealthReload{LastReload: st.LastReload, LastError: st.LastReloadError, Reloads: st.Reloads, Failures: st.Failures},
		DecisionLog: HealthDecisonLog{Sync: string(s.deps.LogSync)},
	}
	for _, pkg := range p.Packages {
		h.Packages = append(h.Packages, HealthPackage{
			HealthPolicy: HealthPolicy{Package: pkg.Name(), Version: pkg.Version(), Digest: pkg.Digest(), Backend: pkg.Backend()},
			File:         pkg.File(), Request: pkg.Shape(), Decides: pkg.Decides(),
		})
	}
	if p.Data != nil {
		h.Data = &HealthData{Digest: p.Data.Digest(), Subjects: p.Data.Subjects(), Resources: p.Data.Resources()}
	}
	if st.LastReloadError != "" {
		h.Status = "degraded"
		at := st.LastErrorAt
		h.Reload.LastErrorAt = &at
	}
	if f := s.logErr.Load(); f != nil {
		h.Status = "degraded"
		h.DecisionLog.LastError = f.Error
		at := f.At
		h.DecisionLog.LastErrorAt = &at
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(http.StatusOK, h)
}

// Ready is the body of GET /readyz.
type Ready struct {
	Status string `json:"status"`
}

func (s *Server) readyz(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	why := s.notReady()
	s.readyLog.Observe(why)
	if why != "" {
		return c.JSON(http.StatusServiceUnavailable, Ready{Status: "not_ready"})
	}
	return c.JSON(http.StatusOK, Ready{Status: "ready"})
}

// notReady returns why /readyz answers 503, "" when ready.
func (s *Server) notReady() string {
	switch {
	case !s.ready.Load():
		return "starting or draining"
	case s.deps.Engine.Active() == nil:
		return "no policy package and snapshot loaded"
	case s.deps.AuthReady != nil && !s.deps.AuthReady():
		return "the Authority's keys are not loaded"
	}
	if s.deps.Log != nil {
		if err := s.deps.Log.Health(); err != nil {
			return err.Error()
		}
	}
	return ""
}
