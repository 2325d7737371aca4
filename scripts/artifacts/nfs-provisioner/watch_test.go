package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
)

func watchObjects() []runtime.Object {
	claimPod := func(name, claim string, phase v1.PodPhase) *v1.Pod {
		return &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
			Spec: v1.PodSpec{Volumes: []v1.Volume{{Name: "data", VolumeSource: v1.VolumeSource{
				PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: claim}}}}},
			Status: v1.PodStatus{Phase: phase},
		}
	}
	pv := func(name, server, path string) *v1.PersistentVolume {
		return &v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.PersistentVolumeSpec{
			PersistentVolumeSource: v1.PersistentVolumeSource{NFS: &v1.NFSVolumeSource{Server: server, Path: path}}}}
	}
	pvc := func(name, volume string) *v1.PersistentVolumeClaim {
		return &v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: v1.PersistentVolumeClaimSpec{VolumeName: volume}}
	}
	return []runtime.Object{
		claimPod("waiting", "ours", v1.PodPending),
		claimPod("running", "ours", v1.PodRunning),
		claimPod("other-server", "theirs", v1.PodPending),
		pvc("ours", "pv-ours"),
		pvc("theirs", "pv-theirs"),
		pv("pv-ours", testServer, testExport+"/default-ours-pv-ours"),
		pv("pv-theirs", "10.9.9.9", testExport+"/default-theirs-pv-theirs"),
	}
}

func TestServerWatchWarnsWaitingPodsOncePerOutage(t *testing.T) {
	p := testProvisioner(t)
	client := fake.NewSimpleClientset(watchObjects()...)
	recorder := record.NewFakeRecorder(10)
	w := newServerWatch(p, client, recorder)
	answering := false
	w.dial = func(context.Context, string) error {
		if answering {
			return nil
		}
		return errors.New("dial tcp 10.213.0.1:2049: connect: connection refused")
	}
	ctx := context.Background()
	w.check(ctx)
	w.check(ctx)
	events := drain(recorder)
	if len(events) != 1 {
		t.Fatalf("want one event, for the one Pending pod of this export, once: got %d: %q", len(events), events)
	}
	for _, e := range events {
		for _, want := range []string{"Warning NFSServerUnreachable", "NFS server 10.213.0.1 does not answer on port 2049 (connection refused)", `claim ours, 10.213.0.1:/srv/nfs/k8s/default-ours-pv-ours`} {
			if !strings.Contains(e, want) {
				t.Errorf("event %q does not contain %q", e, want)
			}
		}
	}
	answering = true
	w.check(ctx)
	answering = false
	w.check(ctx)
	if got := len(drain(recorder)); got != 1 {
		t.Fatalf("a new outage warns again: want 1 event, got %d", got)
	}
	answering = true
	w.check(ctx)
	if got := len(drain(recorder)); got != 0 {
		t.Fatalf("no event while the server answers, got %d", got)
	}
}

func drain(r *record.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-r.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}
