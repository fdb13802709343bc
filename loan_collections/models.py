"""Models of this stage."""

# --- collection cases, contact log, promises to pay (collections engineer) ---
from loan_collections.case_models import *  # noqa: F403
