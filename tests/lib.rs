//! Contract tests live in `contract/`; this library is intentionally empty.
