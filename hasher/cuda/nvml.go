package cuda

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hashforge/hashforge/hasher"
)

// GPU health from NVML, the NVIDIA Management Library (libnvidia-ml.so.1,
// installed with the driver), loaded at run time like libcuda: temperature,
// power, fan and clocks. Without it a device's health is not available;
// nothing else changes.

// NVML values as nvml.h defines them.
const (
	nvmlSuccess        = 0
	nvmlTemperatureGPU = 0 // NVML_TEMPERATURE_GPU
	nvmlClockSM        = 1 // NVML_CLOCK_SM
	nvmlClockMem       = 2 // NVML_CLOCK_MEM
	nvmlLibName        = "libnvidia-ml.so.1"
	pciBusIDLength     = 32 // NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE
)

// errNoNVML is a device's health where libnvidia-ml.so.1 cannot be loaded.
var errNoNVML = errors.New("GPU health not available: no NVML (" + nvmlLibName + " not found)")

// NVML functions, nil until loadNVML succeeds. Each returns an nvmlReturn_t.
var (
	nvmlInit                      func() int32
	nvmlDeviceGetHandleByPciBusId func(busID *byte, device *uintptr) int32
	nvmlDeviceGetTemperature      func(device uintptr, sensor uint32, value *uint32) int32
	nvmlDeviceGetPowerUsage       func(device uintptr, milliwatts *uint32) int32
	nvmlDeviceGetFanSpeed         func(device uintptr, percent *uint32) int32
	nvmlDeviceGetClockInfo        func(device uintptr, clock uint32, mhz *uint32) int32
)

var (
	nvmlOnce sync.Once
	nvmlErr  error
)

// nvml loads and initialises NVML once per process.
func nvml() error {
	nvmlOnce.Do(func() {
		if nvmlErr = loadNVML(); nvmlErr != nil {
			return
		}
		if r := nvmlInit(); r != nvmlSuccess {
			nvmlErr = fmt.Errorf("GPU health not available: nvmlInit failed (%d)", r)
		}
	})
	return nvmlErr
}

// nvmlHandle finds the NVML device of a CUDA device by its PCI bus id: the
// two libraries may number devices differently.
func nvmlHandle(dev cuDevice) (uintptr, error) {
	if err := nvml(); err != nil {
		return 0, err
	}
	if cuDeviceGetPCIBusId == nil {
		return 0, errors.New("GPU health not available: the CUDA driver has no cuDeviceGetPCIBusId")
	}
	bus := make([]byte, pciBusIDLength)
	if err := check("cuDeviceGetPCIBusId", cuDeviceGetPCIBusId(&bus[0], int32(len(bus)), dev)); err != nil {
		return 0, fmt.Errorf("GPU health not available: %w", err)
	}
	var h uintptr
	if r := nvmlDeviceGetHandleByPciBusId(&bus[0], &h); r != nvmlSuccess {
		return 0, fmt.Errorf("GPU health not available: NVML does not know %s (%d)", goString(bus), r)
	}
	return h, nil
}

// readHealth reads what NVML knows of a device; a reading it refuses (no
// fan on a passively cooled card) stays nil.
func readHealth(h uintptr) hasher.Health {
	read := func(f func(*uint32) int32, scale float64) *float64 {
		var v uint32
		if f(&v) != nvmlSuccess {
			return nil
		}
		x := float64(v) * scale
		return &x
	}
	return hasher.Health{
		TemperatureC:   read(func(v *uint32) int32 { return nvmlDeviceGetTemperature(h, nvmlTemperatureGPU, v) }, 1),
		PowerW:         read(func(v *uint32) int32 { return nvmlDeviceGetPowerUsage(h, v) }, 1e-3),
		FanPercent:     read(func(v *uint32) int32 { return nvmlDeviceGetFanSpeed(h, v) }, 1),
		SMClockMHz:     read(func(v *uint32) int32 { return nvmlDeviceGetClockInfo(h, nvmlClockSM, v) }, 1),
		MemoryClockMHz: read(func(v *uint32) int32 { return nvmlDeviceGetClockInfo(h, nvmlClockMem, v) }, 1),
	}
}

// Health reads a listed device's health without opening it, for `miner
// devices`.
func (b *Backend) Health(info hasher.DeviceInfo) (hasher.Health, error) {
	if err := driver(); err != nil {
		return hasher.Health{}, err
	}
	var dev cuDevice
	if err := check("cuDeviceGet", cuDeviceGet(&dev, int32(info.Index))); err != nil {
		return hasher.Health{}, fmt.Errorf("CUDA: %w", err)
	}
	h, err := nvmlHandle(dev)
	if err != nil {
		return hasher.Health{}, err
	}
	return readHealth(h), nil
}
