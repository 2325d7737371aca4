package main

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// asUser runs f on a thread of its own whose file-system uid and gid are uid and gid, and waits
// for it. Over NFS (AUTH_SYS) the server then sees exactly that user and group, whatever this
// process runs as: a directory made in f is uid:gid's, and the group may be set to gid as its owner
// is a member of it. setfsuid and setfsgid change the calling thread only (CAP_SETUID and
// CAP_SETGID), so the thread stays locked and ends with its goroutine: no other goroutine ever
// runs with these ids.
func asUser(uid, gid int, f func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the runtime ends this thread with the goroutine
		done <- func() error {
			if err := setFsIDs(uid, gid); err != nil {
				return err
			}
			return f()
		}()
	}()
	return <-done
}

// setFsIDs sets the calling thread's fsgid then fsuid, and checks both took: the syscalls
// report no error, only the id that was there before.
func setFsIDs(uid, gid int) error {
	_, _ = unix.SetfsgidRetGid(gid)
	_, _ = unix.SetfsuidRetUid(uid)
	// -1 is no id: the calls change nothing and return the current ids.
	g, _ := unix.SetfsgidRetGid(-1)
	u, _ := unix.SetfsuidRetUid(-1)
	if u != uid || g != gid {
		return fmt.Errorf("cannot act as %d:%d on the export (file-system ids stay %d:%d): the container needs CAP_SETUID and CAP_SETGID", uid, gid, u, g)
	}
	return nil
}
