//! The auth models (being written).

use rustango_core::Auto;
use rustango_macros::Model;

/// A user account.
#[derive(Model, Clone, Debug)]
#[rustango(table = "auth_user")]
pub struct User {
    /// Key.
    #[rustango(primary_key)]
    pub id: Auto<i64>,
    /// Login name.
    #[rustango(max_length = 150, unique)]
    pub username: String,
}
