"""Privacy: the shared differential-privacy accountant (more of the privacy engine lands here)."""

from medsyn.privacy._accountant import PrivacyAccountant, PrivacyGuarantee, Spend, cdp_eps, cdp_rho

__all__ = ["PrivacyAccountant", "PrivacyGuarantee", "Spend", "cdp_eps", "cdp_rho"]
