"""The data quality gate: the text checks every stage and ``ultralink validate`` share."""
