"""An eps or v prediction loss in x0 units (paretodiff's identities, README "Weightings").

||eps - eps^||^2 = SNR ||x0 - x0^||^2 and ||v - v^||^2 = (SNR + 1) ||x0 - x0^||^2 for a
variance-preserving schedule (Hang et al., ICCV 2023, section 3.4), so the x0 loss is
the eps loss / SNR and the v loss / (SNR + 1); for flow matching's velocity
u = eps - x0 on x_t = (1 - t) x0 + t eps, ||u - u^||^2 = (1 + sqrt SNR)^2 ||x0 - x0^||^2
(paretodiff weights --help). Where SNR = 0 (the last step of a
zero-terminal schedule) the eps identity gives no x0 loss: the result is NaN there.
"""

import torch


def to_x0_loss(loss, target, snr):
    """The x0-unit loss of a per-example ``loss`` of the ``target`` ("eps", "x0", "v", "flow").

    ``snr`` is SNR(t) of each example (a tensor broadcastable to loss).
    """
    snr = torch.as_tensor(snr, dtype=loss.dtype, device=loss.device)
    if target == "x0":
        return loss
    if target == "eps":
        return torch.where(snr > 0, loss / snr, torch.full_like(loss, float("nan")))
    if target == "v":
        return loss / (snr + 1)
    if target == "flow":
        return loss / (1 + snr.sqrt()) ** 2
    raise ValueError(f"paretodiff_torch: target {target!r}: want eps, x0, v or flow")
