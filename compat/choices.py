"""Choices the command line offers, kept apart from the code that acts on them, so that
building the argument parser (`--help`, usage errors) loads nothing heavy (torch)."""

# Where a migrated LSTM starts: "burn-in" = what current NAM's export stores (the core run
# on 48,000 zeros from the zero state, here at the folded knob setting); "model" = the state
# the legacy model's own forward starts from (learned state, a file's stored state, or zeros
# for 0.3.0), so the migrated file reproduces the legacy forward from the first sample.
INITIAL_STATES = ("burn-in", "model")
