//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || solaris || windows)

package filelock

import "os"

func tryLock(*os.File) (bool, error) { return false, errUnsupported }

func unlock(*os.File) error { return errUnsupported }
