package main

import (
	"context"
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
)

const (
	testServer = "10.213.0.1"
	testExport = "/srv/nfs/k8s"
)

var testTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func testProvisioner(t *testing.T) *nfsProvisioner {
	t.Helper()
	p, err := newProvisioner(testServer, testExport+"/", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	p.now = func() time.Time { return testTime }
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
		pv.Annotations[annOnDelete] != "delete" || pv.Annotations[annDirectory] != dir ||
		pv.Spec.PersistentVolumeReclaimPolicy != v1.PersistentVolumeReclaimRetain ||
		len(pv.Spec.AccessModes) != 1 || pv.Spec.AccessModes[0] != v1.ReadWriteMany ||
		strings.Join(pv.Spec.MountOptions, ",") != "nfsvers=4.2,hard" ||
		pv.Spec.Capacity.Storage().String() != "1Gi" ||
		pv.Spec.VolumeMode == nil || *pv.Spec.VolumeMode != v1.PersistentVolumeFilesystem ||
		pv.Spec.NFS == nil || pv.Spec.NFS.Server != testServer || pv.Spec.NFS.Path != testExport+"/"+dir || pv.Spec.NFS.ReadOnly {
		t.Errorf("unexpected PV: %+v", pv)
	}
	checkMode(t, filepath.Join(p.mount, dir), 0o775|fs.ModeSetgid|fs.ModeDir)

	// A retried Provision reuses the directory and sets the mode again.
	if err := os.Chmod(filepath.Join(p.mount, dir), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Provision(context.Background(), opts); err != nil {
		t.Fatalf("second Provision: %v", err)
	}
	checkMode(t, filepath.Join(p.mount, dir), 0o775|fs.ModeSetgid|fs.ModeDir)

	// Defaults: 0777 despite the umask, archive, reclaim policy Delete.
	opts = testOptions(nil)
	opts.StorageClass.ReclaimPolicy = nil
	opts.PVName = "pvc-2"
	pv, _, err = p.Provision(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if pv.Annotations[annOnDelete] != "archive" || pv.Spec.PersistentVolumeReclaimPolicy != v1.PersistentVolumeReclaimDelete {
		t.Errorf("defaults: %+v", pv)
	}
	checkMode(t, filepath.Join(p.mount, "default-data-pvc-2"), 0o777|fs.ModeDir)
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
	other := *p
	other.server = "10.0.0.9"
	for _, tt := range []struct {
		desc    string
		pv      *v1.PersistentVolume
		wantErr string
	}{
		{"traversal", testPV(p, testExport+"/../etc", map[string]string{annOnDelete: "delete"}), "contains '/'"},
		{"nested", testPV(p, testExport+"/ns-c-pvc-1/sub", map[string]string{annOnDelete: "delete"}), "contains '/'"},
		{"export root", testPV(p, testExport, map[string]string{annOnDelete: "delete"}), "export root"},
		{"other export", testPV(p, "/srv/nfs/other/ns-c-pvc-1", map[string]string{annOnDelete: "delete"}), "not inside the export"},
		{"other server", testPV(&other, testExport+"/ns-c-pvc-1", map[string]string{annOnDelete: "delete"}), `not on "10.213.0.1"`},
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
		if _, err := newProvisioner(tt.server, tt.path, tt.mount); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("newProvisioner(%q, %q, %q): %v, want %q", tt.server, tt.path, tt.mount, err, tt.wantErr)
		}
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
