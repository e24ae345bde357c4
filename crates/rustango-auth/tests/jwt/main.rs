//! The JWT lifecycle: attacks, lifecycle, keys and rotation, revocation stores.

mod keys;
mod support;

mod attacks;
mod key_rotation;
mod lifecycle;
mod stores;
