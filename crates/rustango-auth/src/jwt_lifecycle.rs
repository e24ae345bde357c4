//! JWT lifecycle (being written).
