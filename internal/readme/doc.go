// Package readme holds no code, only the test that the documentation's
// examples work as written: every ```go block of README.md compiles and
// runs, and the ```sh command examples run in order (see readme_test.go).
package readme
