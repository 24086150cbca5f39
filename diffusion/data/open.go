package data

import (
	"fmt"
	"strings"
)

// SpecHelp lists the specs Open accepts.
const SpecHelp = `toy:8gaussians | toy:swissroll | toy:checkerboard | toy:moons   seeded 2-D distributions
mnist                                                            MNIST digits, 784 values in [−1, 1]`

// DimOf returns the example length of a data spec (2 for toy data, 784
// for MNIST) without loading any data; an unknown spec is an error, as for
// Open.
func DimOf(spec string) (int, error) {
	name, arg, _ := strings.Cut(spec, ":")
	switch name {
	case "toy":
		t, err := NewToy(arg)
		if err != nil {
			return 0, err
		}
		return t.Dim(), nil
	case "mnist":
		if arg != "" {
			return 0, fmt.Errorf("data: %q: mnist takes no argument", spec)
		}
		return MNISTDim, nil
	}
	return 0, fmt.Errorf("data: unknown data %q (want toy:8gaussians, toy:swissroll, toy:checkerboard, toy:moons or mnist)", spec)
}

// ImageShapeOf returns the image shape of a data spec whose examples are
// square images, channels-first (C, S, S) flattened to DimOf = C·S²
// values: MNIST is one channel of side 28. Point data (toy) has none
// (ok false); an unknown spec is DimOf's error.
func ImageShapeOf(spec string) (channels, side int, ok bool, err error) {
	if _, err := DimOf(spec); err != nil {
		return 0, 0, false, err
	}
	if name, _, _ := strings.Cut(spec, ":"); name == "mnist" {
		return 1, MNISTSide, true, nil
	}
	return 0, 0, false, nil
}

// Open reads a data spec ("toy:NAME" or "mnist", see SpecHelp) and returns
// the training set and a held-out set: for toy data the same distribution
// (the caller draws held-out examples with a seed of their own), for MNIST
// the test split. mnistDir is passed to LoadMNIST ("" finds the files).
func Open(spec, mnistDir string) (train, heldOut Dataset, err error) {
	name, arg, _ := strings.Cut(spec, ":")
	switch name {
	case "toy":
		t, err := NewToy(arg)
		if err != nil {
			return nil, nil, err
		}
		return t, t, nil
	case "mnist":
		if arg != "" {
			return nil, nil, fmt.Errorf("data: %q: mnist takes no argument", spec)
		}
		tr, err := LoadMNIST(mnistDir, "train")
		if err != nil {
			return nil, nil, err
		}
		te, err := LoadMNIST(mnistDir, "test")
		if err != nil {
			return nil, nil, err
		}
		return tr, te, nil
	}
	return nil, nil, fmt.Errorf("data: unknown data %q (want toy:8gaussians, toy:swissroll, toy:checkerboard, toy:moons or mnist)", spec)
}
