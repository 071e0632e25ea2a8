package p2p

import "testing"

func TestNetAddrConversion(t *testing.T) {
	tests := []struct {
		addr string
		ok   bool
		back string // "" when the address is not shared
	}{
		{"127.0.0.1:18999", true, "127.0.0.1:18999"},
		{"[::1]:8999", true, "[::1]:8999"},
		{"[2001:db8::7]:1", true, "[2001:db8::7]:1"},
		{"localhost:8999", false, ""},  // only IP literals travel
		{"127.0.0.1:0", false, ""},     // port 0 does not listen
		{"127.0.0.1:65536", false, ""}, // not a port
		{"127.0.0.1", false, ""},       // no port
		{"0.0.0.0:8999", true, ""},     // converts, but nobody can dial it
		{"[::]:8999", true, ""},        // likewise
		{"10.1.2.3:65535", true, "10.1.2.3:65535"},
	}
	for _, tt := range tests {
		na, ok := toNetAddr(tt.addr)
		if ok != tt.ok {
			t.Errorf("toNetAddr(%q) ok = %v, want %v", tt.addr, ok, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		if got := netAddrString(na); got != tt.back {
			t.Errorf("netAddrString(toNetAddr(%q)) = %q, want %q", tt.addr, got, tt.back)
		}
	}
}
