package main

import (
	"testing"

	"github.com/hashforge/hashforge/hasher"
)

func TestDescribeHealth(t *testing.T) {
	temp, power := 64.0, 301.25
	for _, tt := range []struct {
		h    *hasher.Health
		note string
		want string
	}{
		{nil, "GPU health not available: no NVML (libnvidia-ml.so.1 not found)", "GPU health not available: no NVML (libnvidia-ml.so.1 not found)"},
		{&hasher.Health{TemperatureC: &temp, PowerW: &power}, "", "health: 64 °C, 301.2 W"},
		{&hasher.Health{}, "", "GPU health: no readings"},
	} {
		if got := describeHealth(tt.h, tt.note); got != tt.want {
			t.Errorf("describeHealth = %q, want %q", got, tt.want)
		}
	}
}
