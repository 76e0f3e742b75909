//! End-to-end scenarios only: see `tests/it`. The crate has no code of its own.
