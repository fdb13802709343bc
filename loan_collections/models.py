"""Models of this stage."""

# --- collection cases, contact log, promises to pay (collections engineer) ---
from loan_collections import post_loan  # noqa: F401  (models of COB steps 6–8)
from loan_collections.case_models import *  # noqa: F403
