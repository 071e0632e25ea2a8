package hasher

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// ErrUnknownDevice reports a device ID that names no listed device.
var ErrUnknownDevice = errors.New("unknown device")

// Candidate is a listed device and the backend that opens it.
type Candidate struct {
	Backend Backend
	Info    DeviceInfo
}

// ListAll lists every device of one backend; the error says why there are none.
func ListAll(b Backend) ([]Candidate, error) {
	infos, err := b.List()
	if err != nil {
		return nil, err
	}
	if len(infos) == 0 {
		return nil, fmt.Errorf("%s: no device found", b.Name())
	}
	cands := make([]Candidate, len(infos))
	for i, info := range infos {
		cands[i] = Candidate{Backend: b, Info: info}
	}
	return cands, nil
}

// ListGPUs lists the GPUs to mine on: every CUDA device first, then the
// OpenCL GPUs that CUDA does not already drive (NVIDIA's OpenCL platform,
// when CUDA found devices). notes says, backend by backend, why nothing or
// what else was found, for an error that names what the machine has.
func ListGPUs(cuda, opencl Backend) (gpus []Candidate, notes []string) {
	cudaDevs, err := ListAll(cuda)
	if err != nil {
		notes = append(notes, err.Error())
	}
	gpus = append(gpus, cudaDevs...)
	clDevs, err := ListAll(opencl)
	if err != nil {
		notes = append(notes, err.Error())
	}
	var others []string
	for _, c := range clDevs {
		switch {
		case c.Info.Type != "GPU":
			others = append(others, fmt.Sprintf("%s %s (%s)", c.Info.ID(), c.Info.Name, c.Info.Type))
		case len(cudaDevs) > 0 && strings.Contains(c.Info.Platform, "NVIDIA"):
			// The same card, already mining through CUDA.
		default:
			gpus = append(gpus, c)
		}
	}
	if len(others) > 0 {
		notes = append(notes, "OpenCL devices that are not GPUs: "+strings.Join(others, ", "))
	}
	return gpus, notes
}

// Open opens the candidates named in ids (device IDs such as "cuda0"), or all
// of them when ids is empty. An ID that names no candidate is an error; when
// one fails to open, those opened before it are closed.
func Open(cands []Candidate, ids []string) ([]Device, error) {
	var known []string
	for _, c := range cands {
		known = append(known, c.Info.ID())
	}
	for _, id := range ids {
		if !slices.Contains(known, id) {
			return nil, fmt.Errorf("%w %q; devices: %s", ErrUnknownDevice, id, strings.Join(known, ", "))
		}
	}
	var devs []Device
	for _, c := range cands {
		if len(ids) > 0 && !slices.Contains(ids, c.Info.ID()) {
			continue
		}
		d, err := c.Backend.Open(c.Info)
		if err != nil {
			// The devices opened so far hold GPU contexts and buffers.
			err = fmt.Errorf("open %s (%s): %w", c.Info.ID(), c.Info.Name, err)
			return nil, errors.Join(err, CloseAll(devs))
		}
		devs = append(devs, d)
	}
	return devs, nil
}

// OpenAll lists and opens every device of one backend.
func OpenAll(b Backend) ([]Device, error) {
	cands, err := ListAll(b)
	if err != nil {
		return nil, err
	}
	return Open(cands, nil)
}

// CloseAll releases the devices that hold resources (GPU contexts, buffers,
// programs); call it once no Search runs any more.
func CloseAll(devs []Device) error {
	var errs []error
	for _, d := range devs {
		if c, ok := d.(io.Closer); ok {
			if err := c.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close %s: %w", d.Info().ID(), err))
			}
		}
	}
	return errors.Join(errs...)
}
