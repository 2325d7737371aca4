//go:build tools

// Package tools pins the commands that scripts/artifacts.sh builds.
package tools

import (
	_ "github.com/coredns/coredns"
)
