"""HTML views of the messenger app (one module per area)."""
