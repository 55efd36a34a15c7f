"""The only code holding grad_fn: catalog (names and lines), graph walk, recorded backward."""
