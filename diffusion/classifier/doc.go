// Package classifier trains the small MNIST classifier whose penultimate
// layer gives the features of the toolkit's Fréchet distance (an FID whose
// Inception network is replaced by a network the toolkit trains itself, as
// no download is possible) and whose class probabilities give the label
// entropies of generated digits (metrics.LabelEntropy).
//
// The network is an MLP on the explicit-layer engine (package nn):
// 784 → 256 → 128 → 10 by default, SiLU after each hidden layer; the 128
// activations of the last hidden layer are the features. It is trained with
// the mean softmax cross-entropy, whose loss and gradient with respect to
// the logits are computed on the host from downloaded logits (K = 10 values
// per row; nn.Backend has no softmax), by AdamW with a linear warm-up and
// linear decay of the learning rate. Default training (Config's zero value:
// 5 epochs of batch 128, peak rate 2e-3, seed 0) reaches about 98% test
// accuracy in well under a minute on two CPU cores.
//
// MNIST trains it once and caches it on disk (CacheDir: $PARETODIFF_CACHE
// or the user cache folder), together with its test accuracy and the
// Gaussian fit of the test split's features, which is the reference side of
// every Fréchet distance.
//
// Invariants:
//   - Inputs are MNIST images scaled to [−1, 1] as data.MNIST.Image gives
//     them (the scale of the diffusion models' samples), flattened to 784
//     values.
//   - Training is reproducible: the initial weights come from
//     rand.NewPCG(Seed, 0), the order of examples from rand.NewPCG(Seed, 1),
//     and the CPU backend is deterministic, so the same Config gives the
//     same bits.
//   - A cache file is named by a hash of the Config and the SHA-256 digests
//     of the train and test splits' content (data.MNIST.Digest), and ends
//     with a SHA-256 of everything before it (header with configuration,
//     digests and layout, weights, test statistics). A file that fails any
//     check — magic, checksum, sizes, configuration, data digests, finite
//     weights — is never used: the classifier is retrained and the file
//     replaced atomically.
//   - Processes sharing a cache folder take turns on a cache file (a lock
//     file beside it, package internal/filelock): one trains a missing
//     classifier, the others wait and load it, so that every model of a
//     sweep is measured with the same classifier.
//   - Eval is row-independent: features and probabilities of a row do not
//     depend on the other rows or the batch size.
package classifier
