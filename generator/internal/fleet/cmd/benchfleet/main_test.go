package main

import (
	"io"
	"slices"
	"testing"
	"time"
)

func TestParseSizes(t *testing.T) {
	for _, tc := range []struct {
		name, sizes string
		want        []size
		wantErr     bool
	}{
		{name: "list", sizes: "10x1, 1000x10", want: []size{{10, 1}, {1000, 10}}},
		{name: "no clusters", sizes: "10", wantErr: true},
		{name: "zero", sizes: "0x1", wantErr: true},
		{name: "words", sizes: "tenxone", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Any existing file stands in for rampart: parseFlags only checks that it exists.
			cfg, err := parseFlags([]string{"-rampart", "main_test.go", "-sizes", tc.sizes}, io.Discard)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && !slices.Equal(cfg.sizes, tc.want) {
				t.Errorf("sizes = %v, want %v", cfg.sizes, tc.want)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{name: "odd", in: []time.Duration{3, 1, 2}, want: 2},
		{name: "even", in: []time.Duration{4, 1, 2, 3}, want: 2},
		{name: "one", in: []time.Duration{5}, want: 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := median(tc.in); got != tc.want {
				t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestDiff(t *testing.T) {
	at := time.Unix(1, 0)
	before := map[string]fileState{"a": {1, at}, "b": {2, at}, "c": {3, at}}
	after := map[string]fileState{"a": {1, at}, "b": {2, at.Add(time.Second)}, "d": {4, at}}
	if got, want := diff(before, after), []string{"b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("diff = %v, want %v", got, want)
	}
}
