"""The neural specialists: five explainable plan evaluators behind one gRPC service."""
