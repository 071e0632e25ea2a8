package devnet

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeMining: any body decodes or is refused without a panic, and one
// taken says what re-encodes to a body taken alike.
func FuzzDecodeMining(f *testing.F) {
	for _, s := range []string{`{"enabled":true}`, `{"enabled":false}`, `{}`, `{"enabled":true}{}`, `{"Enabled":true}`, `nul`, `{"enabled":true,"enabled":false}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		enabled, err := decodeMining(body)
		if err != nil {
			return
		}
		again, err := json.Marshal(map[string]bool{"enabled": enabled})
		if err != nil {
			t.Fatal(err)
		}
		if back, err := decodeMining(again); err != nil || back != enabled {
			t.Errorf("%q took as %v, but %s decodes to %v, %v", body, enabled, again, back, err)
		}
	})
}
