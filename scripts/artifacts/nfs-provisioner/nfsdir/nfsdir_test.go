package nfsdir

import (
	"io/fs"
	"strings"
	"testing"
	"time"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string // "" means valid
	}{
		{"default-data-pvc-0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0", ""},
		{"a", ""},
		{"a.b", ""},
		{"", "empty"},
		{"a/b", "'/'"},
		{"/etc", "'/'"},
		{"..", "'..'"},
		{"a..b", "'..'"},
		{".hidden", "starts with '.'"},
		{".", "starts with '.'"},
		{"a\x00b", "NUL"},
		{strings.Repeat("x", MaxNameLen), ""},
		{strings.Repeat("x", MaxNameLen+1), "bytes long"},
	}
	for _, tt := range tests {
		err := ValidName(tt.name)
		checkErr(t, "ValidName("+quote(tt.name)+")", err, tt.wantErr)
	}
}

func TestName(t *testing.T) {
	tests := []struct {
		ns, pvc, pv string
		want        string
		wantErr     string
	}{
		{"default", "data", "pvc-123", "default-data-pvc-123", ""},
		{"kube-system", "logs.v2", "pvc-9", "kube-system-logs.v2-pvc-9", ""},
		{"", "data", "pvc-1", "", "namespace is empty"},
		{"ns", "", "pvc-1", "", "PVC name is empty"},
		{"ns", "data", "", "", "PV name is empty"},
		{"ns", "a/b", "pvc-1", "", "'/'"},
		{".ns", "data", "pvc-1", "", "starts with '.'"},
		{"ns", "..", "pvc-1", "", "'..'"},
		{"ns", strings.Repeat("p", 253), "pvc-1", "", "bytes long"},
	}
	for _, tt := range tests {
		got, err := Name(tt.ns, tt.pvc, tt.pv)
		checkErr(t, "Name("+quote(tt.ns)+", "+quote(tt.pvc)+", "+quote(tt.pv)+")", err, tt.wantErr)
		if got != tt.want {
			t.Errorf("Name(%q, %q, %q) = %q, want %q", tt.ns, tt.pvc, tt.pv, got, tt.want)
		}
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in      string
		want    fs.FileMode
		wantErr string
	}{
		{"0777", 0o777, ""},
		{"777", 0o777, ""},
		{"0750", 0o750, ""},
		{"0", 0, ""},
		{"2775", 0o775 | fs.ModeSetgid, ""},
		{"02775", 0o775 | fs.ModeSetgid, ""},
		{"4755", 0o755 | fs.ModeSetuid, ""},
		{"1777", 0o777 | fs.ModeSticky, ""},
		{"7777", 0o777 | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky, ""},
		{"07777", 0o777 | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky, ""},
		{"", 0, "empty"},
		{"0999", 0, "not an octal number"},
		{"0o777", 0, "not an octal number"},
		{"rwxr-xr-x", 0, "not an octal number"},
		{"-777", 0, "not an octal number"},
		{"+777", 0, "not an octal number"},
		{" 777", 0, "not an octal number"},
		{"10000", 0, "more than 07777"},
		{"77777", 0, "more than 07777"},
		{"777777777777777777777", 0, "not an octal number"}, // overflows 32 bits
	}
	for _, tt := range tests {
		got, err := ParseMode(tt.in)
		checkErr(t, "ParseMode("+quote(tt.in)+")", err, tt.wantErr)
		if got != tt.want {
			t.Errorf("ParseMode(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestFormatMode(t *testing.T) {
	for _, s := range []string{"0000", "0750", "0777", "2775", "4755", "1777", "7777"} {
		m, err := ParseMode(s)
		if err != nil {
			t.Fatalf("ParseMode(%q): %v", s, err)
		}
		if got := FormatMode(m); got != s {
			t.Errorf("FormatMode(ParseMode(%q)) = %q", s, got)
		}
	}
}

func TestParseOnDelete(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"archive", "archive", ""},
		{"delete", "delete", ""},
		{"", "", "neither"},
		{"retain", "", "neither"},
		{"Delete", "", "neither"},
		{"archive ", "", "neither"},
	}
	for _, tt := range tests {
		got, err := ParseOnDelete(tt.in)
		checkErr(t, "ParseOnDelete("+quote(tt.in)+")", err, tt.wantErr)
		if got != tt.want {
			t.Errorf("ParseOnDelete(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseParams(t *testing.T) {
	tests := []struct {
		desc    string
		in      map[string]string
		want    Params
		wantErr string
	}{
		{"nil", nil, Params{0o777, "archive"}, ""},
		{"empty", map[string]string{}, Params{0o777, "archive"}, ""},
		{"both", map[string]string{"directoryMode": "2770", "onDelete": "delete"}, Params{0o770 | fs.ModeSetgid, "delete"}, ""},
		{"mode only", map[string]string{"directoryMode": "0750"}, Params{0o750, "archive"}, ""},
		{"onDelete only", map[string]string{"onDelete": "archive"}, Params{0o777, "archive"}, ""},
		{"bad mode", map[string]string{"directoryMode": "0999"}, Params{}, "not an octal number"},
		{"mode too big", map[string]string{"directoryMode": "10000"}, Params{}, "more than 07777"},
		{"unknown onDelete", map[string]string{"onDelete": "retain"}, Params{}, `onDelete "retain" is neither`},
		{"unknown key", map[string]string{"archiveOnDelete": "false"}, Params{}, `unknown StorageClass parameter(s) "archiveOnDelete" (allowed: directoryMode, onDelete)`},
		{"unknown keys sorted", map[string]string{"pathPattern": "x", "server": "y", "onDelete": "delete"}, Params{}, `"pathPattern", "server" (allowed`},
		{"key case matters", map[string]string{"directorymode": "0777"}, Params{}, `"directorymode"`},
	}
	for _, tt := range tests {
		got, err := ParseParams(tt.in)
		checkErr(t, "ParseParams "+tt.desc, err, tt.wantErr)
		if got != tt.want {
			t.Errorf("ParseParams %s = %+v, want %+v", tt.desc, got, tt.want)
		}
	}
}

func TestCleanExport(t *testing.T) {
	tests := []struct {
		in, want, wantErr string
	}{
		{"/srv/nfs/k8s", "/srv/nfs/k8s", ""},
		{"/srv/nfs/k8s/", "/srv/nfs/k8s", ""},
		{"/srv//nfs/k8s", "/srv/nfs/k8s", ""},
		{"/", "/", ""},
		{"srv/nfs", "", "not absolute"},
		{"", "", "not absolute"},
		{"/srv/nfs/../etc", "", `".." element`},
		{"/srv/./nfs", "", `"." element`},
		{"/srv/nfs/..", "", `".." element`},
	}
	for _, tt := range tests {
		got, err := CleanExport(tt.in)
		checkErr(t, "CleanExport("+quote(tt.in)+")", err, tt.wantErr)
		if got != tt.want {
			t.Errorf("CleanExport(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPath(t *testing.T) {
	if got := Path("/srv/nfs/k8s", "default-data-pvc-1"); got != "/srv/nfs/k8s/default-data-pvc-1" {
		t.Errorf("Path = %q", got)
	}
	if got := Path("/", "default-data-pvc-1"); got != "/default-data-pvc-1" {
		t.Errorf("Path on / = %q", got)
	}
}

func TestDirFromPath(t *testing.T) {
	const export = "/srv/nfs/k8s"
	tests := []struct {
		export, path, want, wantErr string
	}{
		{export, "/srv/nfs/k8s/default-data-pvc-1", "default-data-pvc-1", ""},
		{"/", "/default-data-pvc-1", "default-data-pvc-1", ""},
		{export, "/srv/nfs/k8s/../etc", "", "contains '/'"},
		{export, "/srv/nfs/k8s/..", "", "contains '..'"},
		{export, "/srv/nfs/k8s/a..b", "", "contains '..'"},
		{export, "/srv/nfs/k8s/a/b", "", "contains '/'"},
		{export, "/srv/nfs/k8s/a/", "", "contains '/'"},
		{export, "/srv/nfs/k8s/.snapshot", "", "starts with '.'"},
		{export, "/srv/nfs/k8s/", "", "export root"},
		{export, "/srv/nfs/k8s", "", "export root"},
		{"/", "/", "", "export root"},
		{export, "/srv/nfs/other/default-data-pvc-1", "", "not inside the export"},
		{export, "/srv/nfs/k8sx/default-data-pvc-1", "", "not inside the export"},
		{export, "/srv/nfs", "", "not inside the export"},
		{export, "//srv/nfs/k8s/a", "", "not inside the export"},
		{export, "srv/nfs/k8s/a", "", "not inside the export"},
		{export, "", "", "not inside the export"},
		{export, "/etc", "", "not inside the export"},
	}
	for _, tt := range tests {
		got, err := DirFromPath(tt.export, tt.path)
		checkErr(t, "DirFromPath("+quote(tt.export)+", "+quote(tt.path)+")", err, tt.wantErr)
		if got != tt.want {
			t.Errorf("DirFromPath(%q, %q) = %q, want %q", tt.export, tt.path, got, tt.want)
		}
	}
}

func TestArchiveName(t *testing.T) {
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"default-data-pvc-1", time.Date(2026, 3, 4, 5, 6, 7, 999, time.UTC), "archived-default-data-pvc-1-20260304050607"},
		{"x", time.Date(2026, 12, 31, 23, 59, 59, 0, time.FixedZone("CET", 3600)), "archived-x-20261231225959"},
	}
	for _, tt := range tests {
		got := ArchiveName(tt.name, tt.t)
		if got != tt.want {
			t.Errorf("ArchiveName(%q, %v) = %q, want %q", tt.name, tt.t, got, tt.want)
		}
		if err := ValidName(got); err != nil {
			t.Errorf("ArchiveName(%q) is not a valid name: %v", tt.name, err)
		}
	}
	// The longest accepted name still archives within NAME_MAX.
	long := ArchiveName(strings.Repeat("x", MaxNameLen), time.Now())
	if len(long) != 255 {
		t.Errorf("archive name of a %d-byte name is %d bytes, want 255", MaxNameLen, len(long))
	}
}

func checkErr(t *testing.T, call string, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: unexpected error: %v", call, err)
	case want != "" && err == nil:
		t.Errorf("%s: no error, want one containing %q", call, want)
	case want != "" && !strings.Contains(err.Error(), want):
		t.Errorf("%s: error %q does not contain %q", call, err, want)
	}
}

func quote(s string) string { return `"` + s + `"` }
