//! Registrar tests.
