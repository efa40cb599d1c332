package main

import "testing"

func TestParsePlatform(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{"linux/amd64", true},
		{"linux/arm64/v8", true},
		{"linux/arm/v7", true},
		{"windows/amd64", true},
		{"foo", false},
		{"linux", false},
		{"/amd64", false},
		{"linux/", false},
		{"linux/x86_64", false},
		{"lnux/amd64", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := parsePlatform(tt.in)
			if (err == nil) != tt.ok {
				t.Errorf("parsePlatform(%q) = %v, want ok %v", tt.in, err, tt.ok)
			}
		})
	}
}
