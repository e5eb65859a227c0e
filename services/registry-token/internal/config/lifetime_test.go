package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stellaops/authgate/services/registry-token/internal/config"
)

func TestMaxTokenLifetimeSetting(t *testing.T) {
	cfg, err := config.LoadData([]byte(valid), nil)
	if err != nil || cfg.Authority.MaxTokenLifetime != 0 {
		t.Fatalf("default: %s, %v", cfg.Authority.MaxTokenLifetime, err)
	}
	cfg, err = config.LoadData([]byte(valid), []string{"REGISTRY_TOKEN_AUTHORITY__MAXTOKENLIFETIME=1h"})
	if err != nil || cfg.Authority.MaxTokenLifetime != time.Hour {
		t.Fatalf("1h: %s, %v", cfg.Authority.MaxTokenLifetime, err)
	}
	_, err = config.LoadData([]byte(valid), []string{"REGISTRY_TOKEN_AUTHORITY__MAXTOKENLIFETIME=-1m"})
	if err == nil || !strings.Contains(err.Error(), "authority.maxTokenLifetime: -1m0s is negative") {
		t.Fatalf("negative: %v", err)
	}
}
