"""Models of this stage."""

from loan_collections.cob.models import CobRun, CobRunStatus, CobStepRun  # noqa: F401
