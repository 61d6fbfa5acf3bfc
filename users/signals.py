"""Users publish no domain events yet."""
