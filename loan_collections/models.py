"""Models of this stage."""

from loan_collections import post_loan  # noqa: F401  (models of COB steps 6–8)
