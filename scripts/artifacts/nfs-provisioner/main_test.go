package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"

	"k8s-ha/nfs-provisioner/nfsdir"
)

const (
	testServer = "10.213.0.1"
	testExport = "/srv/nfs/k8s"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// testGids is the volumes' gid range of the tests.
var testGids = nfsdir.GidRange{First: 70000, Count: 3}

// testProvisioner works on a temporary export owned by nobody, as the real one is. The provisioner
// acts there as nobody with the volume's group (asUser): the tests need root.
func testProvisioner(t *testing.T) *nfsProvisioner {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the provisioner acts as nobody:<gid> (setfsuid, setfsgid): run as root")
	}
	mount := t.TempDir()
	// t.TempDir's folders are root's 0700: nobody must get through to the export.
	for d := mount; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(mount, nfsdir.Nobody, nfsdir.Nobody); err != nil {
		t.Fatal(err)
	}
	p, err := newProvisioner(testServer, testExport+"/", mount, testGids)
	if err != nil {
		t.Fatal(err)
	}
	p.now = func() time.Time { return testTime }
	p.pvGids = func(context.Context) (map[string]int64, error) { return map[string]int64{}, nil }
	return p
}

func testOptions(params map[string]string) controller.ProvisionOptions {
	retain := v1.PersistentVolumeReclaimRetain
	fsMode := v1.PersistentVolumeFilesystem
	return controller.ProvisionOptions{
		StorageClass: &storagev1.StorageClass{
			ObjectMeta:    metav1.ObjectMeta{Name: "nfs"},
			Provisioner:   defaultProvisionerName,
			Parameters:    params,
			ReclaimPolicy: &retain,
			MountOptions:  []string{"nfsvers=4.2", "hard"},
		},
		PVName: "pvc-0f1e2d3c",
		PVC: &v1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "data"},
			Spec: v1.PersistentVolumeClaimSpec{
				AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteMany},
				Resources:   v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: resource.MustParse("1Gi")}},
				VolumeMode:  &fsMode,
			},
		},
	}
}

func TestProvision(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	p := testProvisioner(t)
	opts := testOptions(map[string]string{"directoryMode": "2775", "onDelete": "delete"})
	pv, state, err := p.Provision(context.Background(), opts)
	if err != nil || state != controller.ProvisioningFinished {
		t.Fatalf("Provision: %v, %v", state, err)
	}
	dir := "default-data-pvc-0f1e2d3c"
	if pv.Name != "pvc-0f1e2d3c" ||
		pv.Annotations[annOnDelete] != "delete" || pv.Annotations[annDirectory] != dir || pv.Annotations[annGid] != "70000" ||
		pv.Spec.PersistentVolumeReclaimPolicy != v1.PersistentVolumeReclaimRetain ||
		len(pv.Spec.AccessModes) != 1 || pv.Spec.AccessModes[0] != v1.ReadWriteMany ||
		strings.Join(pv.Spec.MountOptions, ",") != "nfsvers=4.2,hard" ||
		pv.Spec.Capacity.Storage().String() != "1Gi" ||
		pv.Spec.VolumeMode == nil || *pv.Spec.VolumeMode != v1.PersistentVolumeFilesystem ||
		pv.Spec.NFS == nil || pv.Spec.NFS.Server != testServer || pv.Spec.NFS.Path != testExport+"/"+dir || pv.Spec.NFS.ReadOnly {
		t.Errorf("unexpected PV: %+v", pv)
	}
	checkMode(t, filepath.Join(p.mount, dir), 0o775|fs.ModeSetgid|fs.ModeDir)
	checkOwner(t, filepath.Join(p.mount, dir), nfsdir.Nobody, 70000)

	// A retried Provision reuses the directory, its gid, and sets group and mode again.
	if err := os.Chmod(filepath.Join(p.mount, dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(p.mount, dir), nfsdir.Nobody, nfsdir.Nobody); err != nil {
		t.Fatal(err)
	}
	if pv, _, err = p.Provision(context.Background(), opts); err != nil || pv.Annotations[annGid] != "70000" {
		t.Fatalf("second Provision: %v, gid %q", err, pv.Annotations[annGid])
	}
	checkMode(t, filepath.Join(p.mount, dir), 0o775|fs.ModeSetgid|fs.ModeDir)
	checkOwner(t, filepath.Join(p.mount, dir), nfsdir.Nobody, 70000)

	// Defaults: 2770 despite the umask, the next gid, archive, reclaim policy Delete.
	opts = testOptions(nil)
	opts.StorageClass.ReclaimPolicy = nil
	opts.PVName = "pvc-2"
	pv, _, err = p.Provision(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if pv.Annotations[annOnDelete] != "archive" || pv.Annotations[annGid] != "70001" || pv.Spec.PersistentVolumeReclaimPolicy != v1.PersistentVolumeReclaimDelete {
		t.Errorf("defaults: %+v", pv)
	}
	checkMode(t, filepath.Join(p.mount, "default-data-pvc-2"), 0o770|fs.ModeSetgid|fs.ModeDir)
	checkOwner(t, filepath.Join(p.mount, "default-data-pvc-2"), nfsdir.Nobody, 70001)

	// A mode that gives the group nothing: no gid, nobody's group, as before.
	opts = testOptions(map[string]string{"directoryMode": "0707"})
	opts.PVName = "pvc-3"
	if pv, _, err = p.Provision(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if _, ok := pv.Annotations[annGid]; ok {
		t.Errorf("mode 0707 got a gid: %v", pv.Annotations)
	}
	checkMode(t, filepath.Join(p.mount, "default-data-pvc-3"), 0o707|fs.ModeDir)
	checkOwner(t, filepath.Join(p.mount, "default-data-pvc-3"), nfsdir.Nobody, nfsdir.Nobody)
}

// The gid: the lowest that no PV (of any class) carries and no volume in the making holds; a PV
// that shows in the list frees its hold; a deleted one frees its gid.
func TestVolumeGid(t *testing.T) {
	p := testProvisioner(t)
	ctx := context.Background()
	listed := map[string]int64{"pvc-other-class": 70000, "pvc-out-of-range": 5}
	p.pvGids = func(context.Context) (map[string]int64, error) {
		m := map[string]int64{}
		for k, v := range listed {
			m[k] = v
		}
		return m, nil
	}
	want := func(pvName string, gid int64) {
		t.Helper()
		if g, err := p.volumeGid(ctx, pvName); err != nil || g != gid {
			t.Errorf("volumeGid(%s) = %d, %v; want %d", pvName, g, err, gid)
		}
	}
	want("pvc-a", 70001)
	want("pvc-b", 70002) // pvc-a's PV is not listed yet: its gid is held
	want("pvc-a", 70001) // retried
	if _, err := p.volumeGid(ctx, "pvc-c"); err == nil || !strings.Contains(err.Error(), "every gid of 70000..70002") {
		t.Errorf("full range: %v", err)
	}
	listed["pvc-a"] = 70001
	delete(listed, "pvc-other-class")
	want("pvc-c", 70000)
	if _, held := p.given["pvc-a"]; held {
		t.Errorf("pvc-a is listed but still held: %v", p.given)
	}
	// A provision that fails frees its gid; a listing that fails is an error.
	p.forgetGid("pvc-b")
	want("pvc-d", 70002)
	p.pvGids = func(context.Context) (map[string]int64, error) { return nil, errors.New("apiserver away") }
	if _, err := p.volumeGid(ctx, "pvc-e"); err == nil || !strings.Contains(err.Error(), "apiserver away") {
		t.Errorf("list error: %v", err)
	}
}

// Directory creation acts as nobody:<gid>, on a thread of its own: the test's threads keep root.
func TestMakeDirIdentity(t *testing.T) {
	p := testProvisioner(t)
	dir := filepath.Join(p.mount, "ns-v-pvc-1")
	if _, err := makeDir(dir, 0o770|fs.ModeSetgid, 70002); err != nil {
		t.Fatal(err)
	}
	checkOwner(t, dir, nfsdir.Nobody, 70002)
	// A file made inside by another user of the group gets the group (setgid).
	if err := asUser(1000, 1000, func() error { return os.WriteFile(filepath.Join(dir, "f"), nil, 0o640) }); err == nil {
		t.Errorf("uid 1000 without the volume's group wrote in a 2770 directory")
	}
	if err := asUser(1000, 70002, func() error { return os.WriteFile(filepath.Join(dir, "f"), nil, 0o640) }); err != nil {
		t.Fatalf("uid 1000 with the volume's group: %v", err)
	}
	checkOwner(t, filepath.Join(dir, "f"), 1000, 70002)
	// nobody cannot create in a folder it may not write: the directory is made as nobody, not root.
	if err := os.Chmod(p.mount, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p.mount, 0, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := makeDir(filepath.Join(p.mount, "ns-v-pvc-2"), 0o2770, 70002); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("makeDir in root's folder: %v, want permission denied", err)
	}
	if os.Getuid() != 0 || os.Getgid() != 0 {
		t.Errorf("this thread's ids changed: %d:%d", os.Getuid(), os.Getgid())
	}
}

func TestProvisionRefuses(t *testing.T) {
	p := testProvisioner(t)
	tests := []struct {
		desc    string
		change  func(*controller.ProvisionOptions)
		wantErr string
	}{
		{"selector", func(o *controller.ProvisionOptions) {
			o.PVC.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
		}, "spec.selector"},
		{"data source", func(o *controller.ProvisionOptions) {
			o.PVC.Spec.DataSource = &v1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "src"}
		}, "data source"},
		{"unknown parameter", func(o *controller.ProvisionOptions) {
			o.StorageClass.Parameters = map[string]string{"archiveOnDelete": "false"}
		}, `StorageClass "nfs": unknown StorageClass parameter(s) "archiveOnDelete" (allowed: directoryMode, onDelete)`},
		{"bad mode", func(o *controller.ProvisionOptions) {
			o.StorageClass.Parameters = map[string]string{"directoryMode": "0999"}
		}, "not an octal number"},
		{"no storage request", func(o *controller.ProvisionOptions) {
			o.PVC.Spec.Resources.Requests = nil
		}, "requests no storage"},
		{"bad name", func(o *controller.ProvisionOptions) { o.PVName = "../x" }, "contains '/'"},
	}
	for _, tt := range tests {
		opts := testOptions(nil)
		tt.change(&opts)
		pv, state, err := p.Provision(context.Background(), opts)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || pv != nil || state != controller.ProvisioningFinished {
			t.Errorf("%s: got %v, %v, %v; want an error containing %q", tt.desc, pv, state, err, tt.wantErr)
		}
	}
	entries, _ := os.ReadDir(p.mount)
	if len(entries) != 0 {
		t.Errorf("refused provisions left %d entries in the export", len(entries))
	}

	// A file (or symlink) in the way is not reused.
	opts := testOptions(nil)
	if err := os.Symlink("/etc", filepath.Join(p.mount, "default-data-pvc-0f1e2d3c")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Provision(context.Background(), opts); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("symlink in the way: %v", err)
	}
}

func testPV(p *nfsProvisioner, path string, ann map[string]string) *v1.PersistentVolume {
	return &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "pvc-1", Annotations: ann},
		Spec: v1.PersistentVolumeSpec{PersistentVolumeSource: v1.PersistentVolumeSource{
			NFS: &v1.NFSVolumeSource{Server: p.server, Path: path},
		}},
	}
}

func TestDelete(t *testing.T) {
	p := testProvisioner(t)
	mk := func(name string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(p.mount, name, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.mount, name, "sub", "f"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{name, name + "/sub", name + "/sub/f"} {
			if err := os.Chown(filepath.Join(p.mount, f), nfsdir.Nobody, nfsdir.Nobody); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx := context.Background()

	// archive: the default, also without the annotation.
	mk("ns-a-pvc-1")
	if err := p.Delete(ctx, testPV(p, testExport+"/ns-a-pvc-1", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p.mount, "archived-ns-a-pvc-1-20260102030405", "sub", "f")); err != nil {
		t.Errorf("archive: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.mount, "ns-a-pvc-1")); !os.IsNotExist(err) {
		t.Errorf("archive left the directory: %v", err)
	}
	// Already gone: nil.
	if err := p.Delete(ctx, testPV(p, testExport+"/ns-a-pvc-1", nil)); err != nil {
		t.Errorf("gone: %v", err)
	}

	// delete
	mk("ns-b-pvc-1")
	if err := p.Delete(ctx, testPV(p, testExport+"/ns-b-pvc-1", map[string]string{annOnDelete: "delete", annDirectory: "ns-b-pvc-1"})); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p.mount, "ns-b-pvc-1")); !os.IsNotExist(err) {
		t.Errorf("delete left the directory: %v", err)
	}

	// Refusals: nothing is touched.
	mk("ns-c-pvc-1")
	other := &nfsProvisioner{server: "10.0.0.9", export: p.export, mount: p.mount}
	for _, tt := range []struct {
		desc    string
		pv      *v1.PersistentVolume
		wantErr string
	}{
		{"traversal", testPV(p, testExport+"/../etc", map[string]string{annOnDelete: "delete"}), "contains '/'"},
		{"nested", testPV(p, testExport+"/ns-c-pvc-1/sub", map[string]string{annOnDelete: "delete"}), "contains '/'"},
		{"export root", testPV(p, testExport, map[string]string{annOnDelete: "delete"}), "export root"},
		{"other export", testPV(p, "/srv/nfs/other/ns-c-pvc-1", map[string]string{annOnDelete: "delete"}), "not inside the export"},
		{"other server", testPV(other, testExport+"/ns-c-pvc-1", map[string]string{annOnDelete: "delete"}), `not on "10.213.0.1"`},
		{"annotation mismatch", testPV(p, testExport+"/ns-c-pvc-1", map[string]string{annDirectory: "ns-x-pvc-1"}), "annotation k8s-ha.io/nfs-directory"},
		{"unknown onDelete", testPV(p, testExport+"/ns-c-pvc-1", map[string]string{annOnDelete: "retain"}), "neither"},
		{"not NFS", &v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pvc-1"}}, "not an NFS volume"},
	} {
		err := p.Delete(ctx, tt.pv)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "PV pvc-1") {
			t.Errorf("%s: error %v, want one naming the PV and containing %q", tt.desc, err, tt.wantErr)
		}
	}
	if _, err := os.Stat(filepath.Join(p.mount, "ns-c-pvc-1", "sub", "f")); err != nil {
		t.Errorf("a refused delete touched the directory: %v", err)
	}

	// A file where the directory should be is refused too.
	if err := os.WriteFile(filepath.Join(p.mount, "ns-d-pvc-1"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := p.Delete(ctx, testPV(p, testExport+"/ns-d-pvc-1", nil)); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file: %v", err)
	}
}

func TestNewProvisioner(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ server, path, mount, wantErr string }{
		{"", "/srv", dir, "--server"},
		{"nfs.example", "", dir, "--path (NFS_PATH) is required"},
		{"nfs.example", "srv", dir, "not absolute"},
		{"nfs.example", "/srv/../etc", dir, `".." element`},
		{"nfs.example", "/srv", "relative", "--mount"},
		{"nfs.example", "/srv", filepath.Join(dir, "missing"), "should be mounted"},
	} {
		if _, err := newProvisioner(tt.server, tt.path, tt.mount, testGids); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("newProvisioner(%q, %q, %q): %v, want %q", tt.server, tt.path, tt.mount, err, tt.wantErr)
		}
	}
	if _, err := newProvisioner("nfs.example", "/srv", dir, nfsdir.GidRange{}); err == nil || !strings.Contains(err.Error(), "--volume-gid-first/--volume-gid-count: volume gid range 0+0 is empty") {
		t.Errorf("no gid range: %v", err)
	}
}

func checkOwner(t *testing.T, path string, uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || int(st.Gid) != gid {
		t.Errorf("owner of %s is %d:%d, want %d:%d", path, st.Uid, st.Gid, uid, gid)
	}
}

func checkMode(t *testing.T, path string, want fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != want {
		t.Errorf("mode of %s is %v, want %v", path, fi.Mode(), want)
	}
}
