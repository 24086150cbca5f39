package reproduce

// OnlineStrategies are the online Pareto weightings the `online` target
// trains against min-SNR-5 and constant (and that the cross-trained
// analyses of fig3, fig4 and conflict probe as further training
// weightings): Frank-Wolfe (MGDA's solver) and the paper's UGD on the
// Pareto problem of Eq. 11 over 8 equal-width timestep bins of each step's
// own batch, solved every step. The bins' gradients are normalised to unit
// length (norm=l2), which makes λ = 0.1 scale-free: a tenth of a
// normalised task's squared norm, the same on every data set and target.
var OnlineStrategies = []string{
	"pareto:fw,lambda=0.1,bins=8,norm=l2",
	"pareto:ugd,lambda=0.1,bins=8,norm=l2",
}
