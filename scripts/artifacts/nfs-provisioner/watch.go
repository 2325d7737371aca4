package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
)

// The NFS server port (NFSv4 needs nothing else).
const nfsPort = "2049"

// serverWatch tells the pods waiting for a volume of this export why they wait.
// A pod whose NFS server does not answer waits in ContainerCreating, its mount
// blocked in the kernel, and the kubelet reports nothing that names the
// server. While the server does not answer, each Pending pod with a volume of
// this export gets one Warning event per outage that names the server, the
// export path and the claim.
type serverWatch struct {
	p        *nfsProvisioner
	client   kubernetes.Interface
	recorder record.EventRecorder
	// dial checks the server; a test replaces it.
	dial func(ctx context.Context, address string) error
	// down is set while the server does not answer; warned holds the pods told so in this outage.
	down   bool
	warned map[types.UID]bool
}

func newServerWatch(p *nfsProvisioner, client kubernetes.Interface, recorder record.EventRecorder) *serverWatch {
	return &serverWatch{p: p, client: client, recorder: recorder, dial: dialTCP, warned: map[types.UID]bool{}}
}

func dialTCP(ctx context.Context, address string) error {
	d := net.Dialer{Timeout: 3 * time.Second}
	c, err := d.DialContext(ctx, "tcp", address)
	if err != nil {
		return err
	}
	return c.Close()
}

// run checks every interval until ctx ends.
func (w *serverWatch) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		w.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// check is one round: dial the server; while it does not answer, warn the waiting pods.
func (w *serverWatch) check(ctx context.Context) {
	address := net.JoinHostPort(w.p.server, nfsPort)
	err := w.dial(ctx, address)
	if err == nil {
		if w.down {
			klog.InfoS("NFS server answers again", "server", address, "podsWarned", len(w.warned))
		}
		w.down = false
		w.warned = map[types.UID]bool{}
		return
	}
	if ctx.Err() != nil {
		return
	}
	if !w.down {
		klog.InfoS("NFS server does not answer", "server", address, "err", err)
	}
	w.down = true
	pods, lerr := w.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Pending"})
	if lerr != nil {
		klog.ErrorS(lerr, "Cannot list the Pending pods to tell them the NFS server is down")
		return
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if pod.Status.Phase != v1.PodPending || w.warned[pod.UID] {
			continue
		}
		for _, vol := range pod.Spec.Volumes {
			if vol.PersistentVolumeClaim == nil {
				continue
			}
			path, ok := w.volumePath(ctx, pod.Namespace, vol.PersistentVolumeClaim.ClaimName)
			if !ok {
				continue
			}
			w.recorder.Eventf(pod, v1.EventTypeWarning, "NFSServerUnreachable",
				"NFS server %s does not answer on port %s (%v): volume %q (claim %s, %s:%s) mounts when it is back; nothing written to it is lost",
				w.p.server, nfsPort, shortError(err), vol.Name, vol.PersistentVolumeClaim.ClaimName, w.p.server, path)
			w.warned[pod.UID] = true
			break
		}
	}
}

// volumePath is the NFS path of the claim's volume when this export holds it.
func (w *serverWatch) volumePath(ctx context.Context, namespace, claim string) (string, bool) {
	pvc, err := w.client.CoreV1().PersistentVolumeClaims(namespace).Get(ctx, claim, metav1.GetOptions{})
	if err != nil || pvc.Spec.VolumeName == "" {
		return "", false
	}
	pv, err := w.client.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil || pv.Spec.NFS == nil || pv.Spec.NFS.Server != w.p.server || !strings.HasPrefix(pv.Spec.NFS.Path, w.p.export+"/") {
		return "", false
	}
	return pv.Spec.NFS.Path, true
}

// shortError drops the address that the event already names.
func shortError(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		return s[i+2:]
	}
	return fmt.Sprint(s)
}
