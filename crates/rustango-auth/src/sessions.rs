//! Session stores (being written).
