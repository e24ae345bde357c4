//! Authentication and permissions for rustango applications.
#![deny(missing_docs)]

pub mod jwt_lifecycle;
pub mod models;
pub mod sessions;
