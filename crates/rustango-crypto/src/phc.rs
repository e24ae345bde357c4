//! Verification of argon2 PHC strings, shared by `passwords` and `api_keys`.
//!
//! A PHC string carries its own cost parameters. A hash that asks for 4 GiB of memory
//! or a million passes would turn one verification into an out-of-memory abort or a
//! stalled worker, so the parameters are checked against [`MAX_M_COST`],
//! [`MAX_T_COST`] and [`MAX_P_COST`] before any work is done.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, Params};

/// Longest PHC string accepted (a default argon2id hash is ~97 characters).
pub(crate) const MAX_PHC_LEN: usize = 512;
/// Largest memory cost a stored hash may ask for, in KiB (256 MiB).
pub(crate) const MAX_M_COST: u32 = 256 * 1024;
/// Largest number of passes a stored hash may ask for.
pub(crate) const MAX_T_COST: u32 = 64;
/// Largest degree of parallelism a stored hash may ask for.
pub(crate) const MAX_P_COST: u32 = 64;

/// Why a PHC string could not be checked.
#[derive(Debug)]
pub(crate) enum PhcError {
    /// Not a well-formed argon2 PHC string.
    Malformed,
    /// A well-formed PHC string for another algorithm (e.g. `pbkdf2-sha256`).
    Unsupported(String),
    /// Parameters above the limits of this module.
    TooExpensive(#[cfg_attr(not(feature = "passwords"), allow(dead_code))] Params),
}

/// A parsed argon2 PHC string with checked parameters.
#[cfg_attr(not(feature = "passwords"), allow(dead_code))]
pub(crate) struct Parsed {
    pub(crate) hash: PasswordHash,
    pub(crate) algorithm: argon2::Algorithm,
    pub(crate) params: Params,
}

/// Parses `phc` and checks its algorithm, version and parameters.
pub(crate) fn parse(phc: &str) -> Result<Parsed, PhcError> {
    if phc.len() > MAX_PHC_LEN {
        return Err(PhcError::Malformed);
    }
    let hash = PasswordHash::new(phc).map_err(|_| PhcError::Malformed)?;
    let algorithm = match argon2::Algorithm::try_from(hash.algorithm.as_str()) {
        Ok(a) => a,
        Err(_) => return Err(PhcError::Unsupported(hash.algorithm.as_str().to_owned())),
    };
    if let Some(version) = hash.version {
        argon2::Version::try_from(version).map_err(|_| PhcError::Malformed)?;
    }
    if hash.salt.is_none() || hash.hash.is_none() {
        return Err(PhcError::Malformed);
    }
    let params = Params::try_from(&hash).map_err(|_| PhcError::Malformed)?;
    if params.m_cost() > MAX_M_COST || params.t_cost() > MAX_T_COST || params.p_cost() > MAX_P_COST
    {
        return Err(PhcError::TooExpensive(params));
    }
    Ok(Parsed {
        hash,
        algorithm,
        params,
    })
}

/// Checks `secret` against the argon2 PHC string `phc`: `Ok(false)` for a wrong secret.
pub(crate) fn verify(secret: &[u8], phc: &str) -> Result<bool, PhcError> {
    let parsed = parse(phc)?;
    let (Some(salt), Some(expected)) = (&parsed.hash.salt, &parsed.hash.hash) else {
        return Err(PhcError::Malformed);
    };
    let version = match parsed.hash.version {
        Some(v) => argon2::Version::try_from(v).map_err(|_| PhcError::Malformed)?,
        None => argon2::Version::V0x13,
    };
    // The algorithm, version and parameters come from the hash itself.
    let argon = Argon2::new(parsed.algorithm, version, parsed.params.clone());
    let mut out = vec![0u8; expected.len()];
    let blocks = parsed.params.block_count();
    let hashed = if blocks <= REUSED_BLOCKS {
        // The 19 MiB work area is kept per thread: a fresh one costs thousands of page
        // faults (about as much time again as the hash) on every sign-in.
        MEMORY.with(|memory| {
            let mut memory = memory.borrow_mut();
            if memory.len() < blocks {
                memory.resize(blocks, argon2::Block::new());
            }
            argon.hash_password_into_with_memory(secret, salt, &mut out, &mut memory[..blocks])
        })
    } else {
        argon.hash_password_into(secret, salt, &mut out)
    };
    hashed.map_err(|_| PhcError::Malformed)?;
    Ok(crate::util::ct_eq(&out, expected.as_bytes()))
}

/// Work areas up to this many 1 KiB blocks (64 MiB) are reused per thread; larger
/// ones (hashes made with unusual parameters) are allocated for the one call.
const REUSED_BLOCKS: usize = 64 * 1024;

thread_local! {
    static MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}
