package chain

import (
	"fmt"
	"strconv"
	"strings"
)

// coinDecimals is the number of decimal places of a coin: 1 coin = 10^8 units.
const coinDecimals = 8

// ParseCoins reads a decimal amount of coins ("12", "0.5", "1.00000001") into
// units exactly, never through floating point. It refuses signs, exponents,
// more than eight decimal places and amounts above MaxMoney.
func ParseCoins(s string) (uint64, error) {
	whole, frac, dotted := strings.Cut(s, ".")
	if whole == "" && frac == "" || dotted && frac == "" || len(frac) > coinDecimals ||
		!allDigits(whole) || !allDigits(frac) {
		return 0, fmt.Errorf("amount %q: want a decimal number of coins with at most %d decimal places", s, coinDecimals)
	}
	if whole == "" {
		whole = "0"
	}
	units, err := strconv.ParseUint(whole+frac+strings.Repeat("0", coinDecimals-len(frac)), 10, 64)
	if err != nil || units > MaxMoney {
		return 0, fmt.Errorf("amount %q exceeds the money supply of %s coins", s, FormatCoins(MaxMoney))
	}
	return units, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// FormatCoins writes units as coins with all eight decimal places.
func FormatCoins(units uint64) string {
	return fmt.Sprintf("%d.%08d", units/Coin, units%Coin)
}
