package cluster

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestNameservers(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		want       []string
		err        string
	}{
		{"one", "nameserver 10.255.255.53\n", []string{"10.255.255.53"}, ""},
		{"order, comments, options", "# generated\n; old\nsearch example.com\nnameserver 127.0.0.53\noptions ndots:2\nnameserver  192.0.2.1 \nnameserver ::1\n",
			[]string{"127.0.0.53", "192.0.2.1", "::1"}, ""},
		{"zone dropped", "nameserver fe80::1%eth0\n", []string{"fe80::1"}, ""},
		{"commented nameserver", "#nameserver 192.0.2.9\n", []string{"127.0.0.1"}, ""},
		{"none: the default", "search example.com\n", []string{"127.0.0.1"}, ""},
		{"empty", "", []string{"127.0.0.1"}, ""},
		{"a name", "nameserver 1.1.1.1\nnameserver dns.example.com\n", nil, `line 2: nameserver "dns.example.com" is not an IP address`},
		{"no address", "nameserver\n", nil, "line 1: nameserver without an address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Nameservers([]byte(tc.conf))
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, a := range got {
				s = append(s, a.String())
			}
			if !slices.Equal(s, tc.want) {
				t.Errorf("got %v, want %v", s, tc.want)
			}
		})
	}
}

func FuzzNameservers(f *testing.F) {
	f.Add("nameserver 10.255.255.53\nsearch x\n")
	f.Add("nameserver fe80::1%eth0\n# c\n")
	f.Add("nameserver\n")
	f.Fuzz(func(t *testing.T, conf string) {
		got, err := Nameservers([]byte(conf))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "line ") && !strings.Contains(err.Error(), "token too long") {
				t.Fatalf("error without its line: %v", err)
			}
			return
		}
		if len(got) == 0 {
			t.Fatal("no server and no error")
		}
		for _, a := range got {
			if !a.IsValid() || a.Zone() != "" || a != netip.MustParseAddr(a.String()) {
				t.Fatalf("address %v", a)
			}
		}
	})
}
