package jsondiff

import (
	"testing"

	"github.com/stretchr/testify/require"
)

type inner struct {
	LR   float64 `json:"lr"`
	Name string  `json:"name,omitempty"`
}

type outer struct {
	Steps int     `json:"steps"`
	Optim inner   `json:"optim"`
	List  []inner `json:"list"`
}

func TestFields(t *testing.T) {
	a := outer{Steps: 10, Optim: inner{LR: 1e-3}, List: []inner{{LR: 1}}}
	require.Empty(t, Fields(a, a))
	b := a
	b.Optim = inner{LR: 2e-3, Name: "x"}
	b.List = []inner{{LR: 1}, {LR: 2}}
	got := Fields(a, b)
	require.Equal(t, []Difference{
		{Path: "list.1.lr", B: "2"},
		{Path: "optim.lr", A: "0.001", B: "0.002"},
		{Path: "optim.name", B: `"x"`},
	}, got)
	require.Equal(t, `optim.name: (absent) vs "x"`, got[2].String())
	require.Panics(t, func() { Fields(make(chan int), 1) })
}
