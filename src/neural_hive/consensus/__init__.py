"""The consensus engine: intents in, five specialist opinions, one decision out."""
