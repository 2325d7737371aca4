// Command nfs-provisioner is the dynamic provisioner of k8s-ha for one NFS
// export. It runs in a pod that mounts the export root at --mount and, for
// each PersistentVolumeClaim of a StorageClass naming it, creates the
// directory <namespace>-<pvc>-<pv> in the export and a PersistentVolume
// pointing at it. When such a PV is released and its reclaim policy is
// Delete, the directory is archived (renamed archived-<dir>-<timestamp>) or
// removed, as the StorageClass parameter onDelete said.
//
// StorageClass parameters: directoryMode (octal, default 0777) and onDelete
// (archive, the default, or delete). While the NFS server does not answer,
// Pending pods with a volume of the export get a Warning event that names the
// server and the path (watch.go). Built by scripts/artifacts.sh.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	"sigs.k8s.io/sig-storage-lib-external-provisioner/v13/controller"

	"k8s-ha/nfs-provisioner/nfsdir"
)

// version is set with -ldflags "-X main.version=...".
var version = "dev"

// Annotations of the PVs it creates.
const (
	annOnDelete  = "k8s-ha.io/on-delete"
	annDirectory = "k8s-ha.io/nfs-directory"
)

const (
	defaultProvisionerName = "k8s-ha.io/nfs"
	defaultMount           = "/export"
	// How long a stopping provisioner waits for the operations in flight.
	shutdownGrace = 20 * time.Second
	// How often the leader checks that the NFS server answers.
	serverWatchInterval = 5 * time.Second
)

// nfsProvisioner implements controller.Provisioner for one export.
type nfsProvisioner struct {
	server string           // NFS server, as PVs name it
	export string           // export path on the server, clean and absolute
	mount  string           // where the export root is mounted in this pod
	now    func() time.Time // clock of the archive names
}

var _ controller.Provisioner = (*nfsProvisioner)(nil)

// newProvisioner checks the settings and that the export is mounted as a directory.
func newProvisioner(server, exportPath, mount string) (*nfsProvisioner, error) {
	if server == "" {
		return nil, errors.New("--server (NFS_SERVER) is required")
	}
	if strings.ContainsAny(server, " \t\n/") {
		return nil, fmt.Errorf("--server %q is not a host name or address", server)
	}
	if exportPath == "" {
		return nil, errors.New("--path (NFS_PATH) is required")
	}
	export, err := nfsdir.CleanExport(exportPath)
	if err != nil {
		return nil, fmt.Errorf("--path: %v", err)
	}
	m, err := nfsdir.CleanExport(mount)
	if err != nil {
		return nil, fmt.Errorf("--mount: %v", strings.Replace(err.Error(), "export path", "mount path", 1))
	}
	fi, err := os.Stat(m)
	if err != nil {
		return nil, fmt.Errorf("--mount: the export root should be mounted at %s: %v", m, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("--mount: %s is not a directory", m)
	}
	return &nfsProvisioner{server: server, export: export, mount: m, now: time.Now}, nil
}

// Provision creates the directory of the claim and returns its PV. Every
// error is final for this attempt (nothing goes on in the background).
func (p *nfsProvisioner) Provision(ctx context.Context, opts controller.ProvisionOptions) (*v1.PersistentVolume, controller.ProvisioningState, error) {
	pv, err := p.provision(ctx, opts)
	if err != nil {
		return nil, controller.ProvisioningFinished, err
	}
	return pv, controller.ProvisioningFinished, nil
}

func (p *nfsProvisioner) provision(ctx context.Context, opts controller.ProvisionOptions) (*v1.PersistentVolume, error) {
	pvc := opts.PVC
	if pvc == nil {
		return nil, errors.New("no PVC to provision for")
	}
	claim := pvc.Namespace + "/" + pvc.Name
	if pvc.Spec.Selector != nil {
		return nil, fmt.Errorf("PVC %s has spec.selector: dynamically provisioned NFS volumes cannot match a label selector", claim)
	}
	if pvc.Spec.DataSource != nil || pvc.Spec.DataSourceRef != nil {
		return nil, fmt.Errorf("PVC %s has a data source: this provisioner only makes empty volumes (no clones, snapshots or populators)", claim)
	}
	var params map[string]string
	var mountOptions []string
	reclaim := v1.PersistentVolumeReclaimDelete
	className := ""
	if sc := opts.StorageClass; sc != nil {
		className = sc.Name
		params = sc.Parameters
		mountOptions = sc.MountOptions
		if sc.ReclaimPolicy != nil {
			reclaim = *sc.ReclaimPolicy
		}
	}
	prm, err := nfsdir.ParseParams(params)
	if err != nil {
		return nil, fmt.Errorf("StorageClass %q: %v", className, err)
	}
	capacity, ok := pvc.Spec.Resources.Requests[v1.ResourceStorage]
	if !ok {
		return nil, fmt.Errorf("PVC %s requests no storage (spec.resources.requests.storage)", claim)
	}
	name, err := nfsdir.Name(pvc.Namespace, pvc.Name, opts.PVName)
	if err != nil {
		return nil, fmt.Errorf("PVC %s: %v", claim, err)
	}
	reused, err := makeDir(filepath.Join(p.mount, name), prm.Mode)
	if err != nil {
		return nil, fmt.Errorf("PVC %s: %v", claim, err)
	}
	nfsPath := nfsdir.Path(p.export, name)

	pv := &v1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{
			Name: opts.PVName,
			Annotations: map[string]string{
				annOnDelete:  prm.OnDelete,
				annDirectory: name,
			},
		},
		Spec: v1.PersistentVolumeSpec{
			PersistentVolumeReclaimPolicy: reclaim,
			AccessModes:                   pvc.Spec.AccessModes,
			MountOptions:                  mountOptions,
			Capacity:                      v1.ResourceList{v1.ResourceStorage: capacity},
			VolumeMode:                    pvc.Spec.VolumeMode,
			PersistentVolumeSource: v1.PersistentVolumeSource{
				NFS: &v1.NFSVolumeSource{Server: p.server, Path: nfsPath},
			},
		},
	}
	klog.FromContext(ctx).Info("Provisioned", "PVC", klog.KObj(pvc), "PV", opts.PVName, "server", p.server, "path", nfsPath,
		"mode", nfsdir.FormatMode(prm.Mode), "onDelete", prm.OnDelete, "reusedDirectory", reused)
	return pv, nil
}

// makeDir creates dir, or reuses it when it is already a directory (a retried
// Provision), and sets its mode exactly: Mkdir's mode loses what the umask
// masks, and Mkdir ignores setuid, setgid and sticky.
func makeDir(dir string, mode fs.FileMode) (reused bool, err error) {
	if err := os.Mkdir(dir, mode.Perm()); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return false, err
		}
		fi, lerr := os.Lstat(dir)
		if lerr != nil {
			return false, lerr
		}
		if !fi.IsDir() {
			return false, fmt.Errorf("%s exists and is not a directory (%v)", dir, fi.Mode().Type())
		}
		reused = true
	}
	if err := os.Chmod(dir, mode); err != nil {
		return reused, err
	}
	return reused, nil
}

// Delete archives or removes the directory of a released PV. It only ever
// touches a directory directly inside the export root of this server.
func (p *nfsProvisioner) Delete(ctx context.Context, pv *v1.PersistentVolume) error {
	logger := klog.FromContext(ctx)
	if pv.Spec.NFS == nil {
		return fmt.Errorf("PV %s is not an NFS volume (no spec.nfs): nothing of ours to delete", pv.Name)
	}
	nfsPath := pv.Spec.NFS.Path
	if pv.Spec.NFS.Server != p.server {
		return fmt.Errorf("PV %s: path %s is on NFS server %q, not on %q: refusing to delete it", pv.Name, nfsPath, pv.Spec.NFS.Server, p.server)
	}
	name, err := nfsdir.DirFromPath(p.export, nfsPath)
	if err != nil {
		return fmt.Errorf("PV %s: refusing to delete path %s: %v", pv.Name, nfsPath, err)
	}
	if want, ok := pv.Annotations[annDirectory]; ok && want != name {
		return fmt.Errorf("PV %s: refusing to delete path %s: its annotation %s says the directory is %q", pv.Name, nfsPath, annDirectory, want)
	}
	action := nfsdir.DefaultOnDelete
	if v, ok := pv.Annotations[annOnDelete]; ok {
		if action, err = nfsdir.ParseOnDelete(v); err != nil {
			return fmt.Errorf("PV %s: refusing to delete path %s: annotation %s: %v", pv.Name, nfsPath, annOnDelete, err)
		}
	}
	dir := filepath.Join(p.mount, name)
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		logger.Info("Directory already gone, nothing to do", "PV", pv.Name, "path", nfsPath, "action", action)
		return nil
	}
	if err != nil {
		return fmt.Errorf("PV %s: path %s: %v", pv.Name, nfsPath, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("PV %s: path %s is not a directory (%v): refusing to %s it", pv.Name, nfsPath, fi.Mode().Type(), action)
	}
	switch action {
	case nfsdir.OnDeleteDelete:
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("PV %s: deleting path %s: %v", pv.Name, nfsPath, err)
		}
		logger.Info("Deleted", "PV", pv.Name, "path", nfsPath, "action", action)
	default:
		archived := nfsdir.ArchiveName(name, p.now())
		target := filepath.Join(p.mount, archived)
		if _, err := os.Lstat(target); err == nil {
			return fmt.Errorf("PV %s: cannot archive path %s: %s already exists", pv.Name, nfsPath, nfsdir.Path(p.export, archived))
		}
		if err := os.Rename(dir, target); err != nil {
			return fmt.Errorf("PV %s: archiving path %s: %v", pv.Name, nfsPath, err)
		}
		logger.Info("Deleted", "PV", pv.Name, "path", nfsPath, "action", action, "archivedAs", nfsdir.Path(p.export, archived))
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// podNamespace is the namespace of the leader election Lease.
func podNamespace() (string, error) {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns, nil
	}
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns, nil
		}
	}
	return "", errors.New("POD_NAMESPACE is not set (and no service account namespace file)")
}

func main() {
	klog.InitFlags(nil)
	name := flag.String("provisioner", envOr("PROVISIONER_NAME", defaultProvisionerName), "provisioner name that StorageClasses give [PROVISIONER_NAME]")
	server := flag.String("server", os.Getenv("NFS_SERVER"), "NFS server of the PVs, required [NFS_SERVER]")
	exportPath := flag.String("path", os.Getenv("NFS_PATH"), "absolute export path on the NFS server, required [NFS_PATH]")
	mount := flag.String("mount", envOr("NFS_MOUNT", defaultMount), "where the export root is mounted in this container [NFS_MOUNT]")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Printf("nfs-provisioner %s\n", version)
		return
	}
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "nfs-provisioner: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if err := run(*name, *server, *exportPath, *mount); err != nil {
		klog.ErrorS(err, "nfs-provisioner failed")
		klog.FlushAndExit(klog.ExitFlushTimeout, 1)
	}
	klog.Flush()
}

// run provisions as long as this replica holds the Lease, until SIGINT or
// SIGTERM (nil error) or until the Lease is lost (an error: the process must
// exit so that a single leader acts).
func run(name, server, exportPath, mount string) error {
	if name == "" {
		return errors.New("--provisioner (PROVISIONER_NAME) is empty")
	}
	prov, err := newProvisioner(server, exportPath, mount)
	if err != nil {
		return err
	}
	ns, err := podNamespace()
	if err != nil {
		return err
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return fmt.Errorf("in-cluster config: %v", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	id := host + "_" + string(uuid.NewUUID())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	klog.InfoS("Starting", "version", version, "provisioner", name, "server", prov.server, "path", prov.export,
		"mount", prov.mount, "leaseNamespace", ns, "identity", id)

	var workers sync.WaitGroup
	pc := controller.NewProvisionController(ctx, client, name, prov, controller.LeaderElection(false))
	pc.ControllerWaitGroup(&workers)

	// The Lease the library would take (same name, namespace and timings), but
	// released on SIGTERM, and a stop that is not a lost Lease exits 0.
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	lock := &resourcelock.LeaseLock{
		LeaseMeta: metav1.ObjectMeta{Namespace: ns, Name: strings.ReplaceAll(name, "/", "-")},
		Client:    client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{
			Identity:      id,
			EventRecorder: broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: name + "_" + id}),
		},
	}
	started := make(chan struct{}) // closed when this replica starts leading
	ran := make(chan struct{})     // closed when the controller has stopped
	leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            lock.LeaseMeta.Name,
		LeaseDuration:   controller.DefaultLeaseDuration,
		RenewDeadline:   controller.DefaultRenewDeadline,
		RetryPeriod:     controller.DefaultRetryPeriod,
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				close(started)
				defer close(ran)
				klog.InfoS("Leading", "lease", ns+"/"+lock.LeaseMeta.Name)
				// Pods waiting on a volume whose server is down learn why (see watch.go).
				watchRecorder := broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "k8s-ha-nfs-provisioner"})
				go newServerWatch(prov, client, watchRecorder).run(ctx, serverWatchInterval)
				pc.Run(ctx)
			},
			OnStoppedLeading: func() {},
			OnNewLeader: func(identity string) {
				if identity != id {
					klog.InfoS("Another replica leads", "lease", ns+"/"+lock.LeaseMeta.Name, "leader", identity)
				}
			},
		},
	})
	// The Lease is released or lost: let the operations in flight finish.
	select {
	case <-started:
		done := make(chan struct{})
		go func() {
			<-ran // after Run returns no worker is added any more
			workers.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(shutdownGrace):
			klog.InfoS("Operations still running after the grace time, exiting anyway", "grace", shutdownGrace)
		}
	default:
	}
	if ctx.Err() == nil {
		return fmt.Errorf("lost the Lease %s/%s", ns, lock.LeaseMeta.Name)
	}
	klog.InfoS("Stopped", "signal", "SIGINT or SIGTERM")
	return nil
}
