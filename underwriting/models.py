"""Models of this stage."""
