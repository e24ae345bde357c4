//! `createsuperuser` and `changepassword`.
//!
//! Passwords are read without echo from a terminal (through `stty`), or as one line
//! from a pipe; `createsuperuser --no-input` takes `RUSTANGO_SUPERUSER_PASSWORD`.
//! Weak passwords are refused with the reasons. Nothing prints a password.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use rustango_auth::{AuthError, users};
use rustango_orm::Pool;

use crate::Error;

/// The variable `createsuperuser --no-input` reads the password from.
pub(crate) const PASSWORD_VAR: &str = "RUSTANGO_SUPERUSER_PASSWORD";

fn prompt(label: &str) -> Result<String, Error> {
    print!("{label}");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::Usage(format!("cannot read from standard input: {e}")))?;
    if line.is_empty() {
        return Err(Error::Usage("standard input ended".into()));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Reads a password, hiding it on a terminal.
fn prompt_password(label: &str) -> Result<String, Error> {
    let terminal = std::io::stdin().is_terminal();
    let stty = |arg: &str| {
        let _ = std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status();
    };
    if terminal {
        stty("-echo");
    }
    let result = prompt(label);
    if terminal {
        stty("echo");
        println!();
    }
    result
}

/// Asks for a new password twice (on a terminal) and checks its strength against
/// `user`.
fn new_password(user: &rustango_auth::models::User) -> Result<String, Error> {
    let password = prompt_password("Password: ")?;
    if std::io::stdin().is_terminal() {
        let again = prompt_password("Password (again): ")?;
        if again != password {
            return Err(Error::Usage("the passwords do not match".into()));
        }
    }
    users::check_password_strength(user, &password)?;
    Ok(password)
}

fn missing_tables(e: AuthError) -> Error {
    match e {
        AuthError::Database(db) => Error::Usage(format!(
            "{db}\n(is the auth app installed and migrated? run `manage migrate`)"
        )),
        other => Error::Auth(other),
    }
}

pub(crate) async fn createsuperuser(
    pool: &Pool,
    username: Option<String>,
    email: Option<String>,
    no_input: bool,
) -> Result<(), Error> {
    let username = match username {
        Some(u) => u,
        None if no_input => {
            return Err(Error::Usage("--no-input needs --username".into()));
        }
        None => prompt("Username: ")?,
    };
    users::validate_username(&username)?;
    let email = match email {
        Some(e) => e,
        None if no_input => String::new(),
        None => prompt("Email address: ")?,
    };
    let candidate = rustango_auth::models::User::new(username.clone(), email.clone());
    let password = if no_input {
        let password = std::env::var(PASSWORD_VAR).map_err(|_| {
            Error::Usage(format!("--no-input needs the password in {PASSWORD_VAR}"))
        })?;
        users::check_password_strength(&candidate, &password)?;
        password
    } else {
        new_password(&candidate)?
    };
    users::create_superuser(pool, &username, &email, &password)
        .await
        .map_err(missing_tables)?;
    println!("Superuser `{username}` created.");
    Ok(())
}

pub(crate) async fn changepassword(pool: &Pool, username: &str) -> Result<(), Error> {
    let mut user = users::get_by_username(pool, username)
        .await
        .map_err(missing_tables)?
        .ok_or_else(|| Error::Usage(format!("no user is named `{username}`")))?;
    let password = new_password(&user)?;
    users::set_password(pool, &mut user, &password).await?;
    println!("Password changed for `{username}`.");
    Ok(())
}
