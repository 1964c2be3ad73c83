//! Integration tests for failwatch-core: one binary, one module per concern.
