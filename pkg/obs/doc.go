// Package obs builds the observability plumbing shared by both services: a
// zap JSON logger and an OpenTelemetry meter provider exported in the
// Prometheus text format from a private registry.
package obs
