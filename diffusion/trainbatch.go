package diffusion

// Batch returns the trainer's batch: inside TrainConfig.WeightFunc (and
// StepPass, which is also given it), the step being taken (its data, timesteps and noise; WeightFunc's t is its
// T), so that an online weighting can run its own passes over exactly the
// examples it weighs; between steps, the last step's. The trainer reuses
// the memory for every step: copy what must outlive it.
func (t *Trainer) Batch() Batch { return t.batch }
