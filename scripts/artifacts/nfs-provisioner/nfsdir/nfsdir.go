// Package nfsdir holds the pure rules of the NFS provisioner: how a volume's
// directory is named, which StorageClass parameters are accepted, how a PV's
// NFS path maps back to its directory (and only when it lies directly inside
// the export), and how an archived directory is named. It touches neither the
// file system nor the Kubernetes API.
package nfsdir

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// StorageClass parameters.
const (
	ParamDirectoryMode = "directoryMode"
	ParamOnDelete      = "onDelete"
)

// What happens to a volume's directory when its PV is deleted.
const (
	OnDeleteArchive = "archive"
	OnDeleteDelete  = "delete"
)

// Defaults of the StorageClass parameters.
const (
	DefaultMode     fs.FileMode = 0o777
	DefaultOnDelete             = OnDeleteArchive
)

// ArchivePrefix starts the name of every archived directory.
const ArchivePrefix = "archived-"

// archiveTimeLayout is YYYYmmddHHMMSS.
const archiveTimeLayout = "20060102150405"

// MaxNameLen is the longest directory name accepted: NAME_MAX (255) less what
// ArchiveName adds ("archived-" and "-YYYYmmddHHMMSS"), so that every volume
// can still be archived.
const MaxNameLen = 255 - len(ArchivePrefix) - 1 - len(archiveTimeLayout)

// Params are the parsed StorageClass parameters.
type Params struct {
	Mode     fs.FileMode // permission bits plus fs.ModeSetuid/ModeSetgid/ModeSticky
	OnDelete string      // OnDeleteArchive or OnDeleteDelete
}

// allowedParams lists the accepted parameter keys, sorted.
var allowedParams = []string{ParamDirectoryMode, ParamOnDelete}

// ValidName checks that name is a single, ordinary path element that is safe
// to create or remove directly inside the export root.
func ValidName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("directory name is empty")
	case strings.ContainsRune(name, '/'):
		return fmt.Errorf("directory name %q contains '/'", name)
	case strings.Contains(name, ".."):
		return fmt.Errorf("directory name %q contains '..'", name)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("directory name %q starts with '.'", name)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("directory name %q contains a NUL byte", name)
	case len(name) > MaxNameLen:
		return fmt.Errorf("directory name %q is %d bytes long, more than %d", name, len(name), MaxNameLen)
	}
	return nil
}

// Name is the directory of a volume: <namespace>-<pvc name>-<pv name>,
// validated with ValidName.
func Name(namespace, pvcName, pvName string) (string, error) {
	for _, p := range []struct{ what, v string }{{"namespace", namespace}, {"PVC name", pvcName}, {"PV name", pvName}} {
		if p.v == "" {
			return "", fmt.Errorf("%s is empty", p.what)
		}
	}
	name := namespace + "-" + pvcName + "-" + pvName
	if err := ValidName(name); err != nil {
		return "", err
	}
	return name, nil
}

// ParseMode parses an octal mode such as "0777", "777" or "2775" (at most
// 07777) into an fs.FileMode whose setuid, setgid and sticky bits are Go's
// fs.ModeSetuid, fs.ModeSetgid and fs.ModeSticky, as os.Chmod expects them.
func ParseMode(s string) (fs.FileMode, error) {
	if s == "" {
		return 0, fmt.Errorf("%s is empty, want an octal mode such as 0777 or 2775", ParamDirectoryMode)
	}
	v, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, fmt.Errorf("%s %q is not an octal number such as 0777 or 2775", ParamDirectoryMode, s)
	}
	if v > 0o7777 {
		return 0, fmt.Errorf("%s %q is more than 07777", ParamDirectoryMode, s)
	}
	m := fs.FileMode(v & 0o777)
	if v&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if v&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if v&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m, nil
}

// FormatMode prints a mode from ParseMode back as four octal digits.
func FormatMode(m fs.FileMode) string {
	v := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return fmt.Sprintf("%04o", v)
}

// ParseOnDelete checks an onDelete value: "archive" or "delete".
func ParseOnDelete(s string) (string, error) {
	switch s {
	case OnDeleteArchive, OnDeleteDelete:
		return s, nil
	}
	return "", fmt.Errorf("%s %q is neither %q nor %q", ParamOnDelete, s, OnDeleteArchive, OnDeleteDelete)
}

// ParseParams parses the parameters of a StorageClass; a key other than
// directoryMode and onDelete is an error that names it.
func ParseParams(params map[string]string) (Params, error) {
	p := Params{Mode: DefaultMode, OnDelete: DefaultOnDelete}
	var unknown []string
	for k := range params {
		if k != ParamDirectoryMode && k != ParamOnDelete {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Params{}, fmt.Errorf("unknown StorageClass parameter(s) %s (allowed: %s)",
			strings.Join(unknown, ", "), strings.Join(allowedParams, ", "))
	}
	var err error
	if s, ok := params[ParamDirectoryMode]; ok {
		if p.Mode, err = ParseMode(s); err != nil {
			return Params{}, err
		}
	}
	if s, ok := params[ParamOnDelete]; ok {
		if p.OnDelete, err = ParseOnDelete(s); err != nil {
			return Params{}, err
		}
	}
	return p, nil
}

// CleanExport checks the export path given to the provisioner (absolute, no
// "." or ".." element) and returns it without a trailing slash.
func CleanExport(p string) (string, error) {
	if !strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("export path %q is not absolute", p)
	}
	for _, e := range strings.Split(p, "/") {
		if e == "." || e == ".." {
			return "", fmt.Errorf("export path %q has a %q element", p, e)
		}
	}
	return path.Clean(p), nil
}

// Path is the NFS path of directory name inside export (a CleanExport result).
func Path(export, name string) string {
	return path.Join(export, name)
}

// DirFromPath maps the NFS path of a PV back to its directory name. The path
// must be exactly <export>/<name> with name a ValidName: anything else
// (another export, a nested path, "..", a trailing slash, the export itself)
// is an error saying why, so that nothing outside the export is ever touched.
func DirFromPath(export, pvPath string) (string, error) {
	prefix := export + "/"
	if export == "/" {
		prefix = "/"
	}
	if pvPath == export || pvPath == prefix {
		return "", fmt.Errorf("path %q is the export root %s itself, not a directory inside it", pvPath, export)
	}
	if !strings.HasPrefix(pvPath, prefix) {
		return "", fmt.Errorf("path %q is not inside the export %s", pvPath, export)
	}
	name := pvPath[len(prefix):]
	if err := ValidName(name); err != nil {
		return "", fmt.Errorf("path %q is not a directory directly inside the export %s: %v", pvPath, export, err)
	}
	return name, nil
}

// ArchiveName is the name an archived directory gets: archived-<name>-<t in
// UTC as YYYYmmddHHMMSS>.
func ArchiveName(name string, t time.Time) string {
	return ArchivePrefix + name + "-" + t.UTC().Format(archiveTimeLayout)
}
