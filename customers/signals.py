"""Customers publish no events yet: points are an effect, not a fact others react to."""
