"""The `nam-legacy` command line and the archaeology tooling."""
