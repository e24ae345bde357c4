//! Installed apps: reusable crates that ship their own models and migrations (the
//! framework's `auth`, a third-party package), Django's `INSTALLED_APPS` entries.
//!
//! An app's migrations are compiled into its crate (`embed_migrations!`) under a
//! directory named after the app, so they apply as `<app>/<name>`. A project installs
//! it with `Builder::install` and `Manage::install`; its migrations then run before the
//! project's own, so the project's tables can point at the app's (a foreign key to
//! `auth_user`), and `makemigrations` leaves the app's models alone.

use std::fmt;

use futures_util::future::BoxFuture;
use rustango_orm::Pool;

use crate::{EmbeddedFile, Error, MigrationSet};

/// What an app runs after every `migrate` (creating rows the app relies on, such as
/// permission codenames).
pub type PostMigrate =
    for<'a> fn(&'a Pool) -> BoxFuture<'a, Result<(), Box<dyn std::error::Error + Send + Sync>>>;

/// A reusable app with migrations of its own; see the [module docs](self).
#[derive(Clone, Copy)]
pub struct App {
    /// The app label: the models' `#[rustango(app = "...")]` and the migrations'
    /// directory.
    pub label: &'static str,
    /// The app's migration files, embedded.
    pub migrations: &'static [EmbeddedFile],
    /// Run after every `migrate`, when set.
    pub post_migrate: Option<PostMigrate>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("label", &self.label)
            .field("migrations", &self.migrations.len())
            .field("post_migrate", &self.post_migrate.is_some())
            .finish()
    }
}

impl App {
    /// Runs the app's post-migrate step, if it has one.
    pub async fn post_migrate(&self, pool: &Pool) -> Result<(), Error> {
        match self.post_migrate {
            Some(hook) => hook(pool).await.map_err(|source| Error::PostMigrate {
                app: self.label,
                source,
            }),
            None => Ok(()),
        }
    }
}

impl MigrationSet {
    /// This set with the migrations of `apps` in front, in the order given.
    ///
    /// Fails when an app's files are not all in its own directory, or when the set
    /// already has migrations for one of the apps' labels.
    pub fn with_apps(self, apps: &[App]) -> Result<MigrationSet, Error> {
        let mut own: Vec<_> = Vec::new();
        for app in apps {
            if own.iter().any(|a: &App| a.label == app.label) {
                continue; // installed twice: once is enough
            }
            if let Some(file) = app.migrations.iter().find(|f| f.app != Some(app.label)) {
                return Err(Error::AppConflict {
                    app: app.label,
                    reason: format!(
                        "its migration `{}` is not in the directory `{}/`",
                        file.name, app.label
                    ),
                });
            }
            if self.of_app(Some(app.label)).next().is_some() {
                return Err(Error::AppConflict {
                    app: app.label,
                    reason: format!(
                        "the project has migrations of its own for app `{}`; remove them \
                         (the app ships its migrations)",
                        app.label
                    ),
                });
            }
            own.push(*app);
        }
        let mut files = Vec::new();
        for app in &own {
            files.extend(MigrationSet::from_embedded(app.migrations)?.into_files());
        }
        let dir = self.dir().map(ToOwned::to_owned);
        files.extend(self.into_files());
        Ok(MigrationSet::from_parts(files, dir))
    }

    /// The migrations of `apps` alone, to bring those apps up to date in a database
    /// whose project migrations are none of this set's business (the set is
    /// [partial](MigrationSet::is_partial)).
    pub fn only_apps(apps: &[App]) -> Result<MigrationSet, Error> {
        Ok(MigrationSet::default().with_apps(apps)?.mark_partial())
    }

    /// This set without the migrations of `apps` (the project's own files).
    pub fn without_apps(&self, apps: &[App]) -> MigrationSet {
        let files = self
            .files()
            .iter()
            .filter(|f| !apps.iter().any(|a| f.app.as_deref() == Some(a.label)))
            .cloned()
            .collect();
        MigrationSet::from_parts(files, self.dir().map(ToOwned::to_owned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Migration, SchemaSnapshot};

    fn file(app: Option<&'static str>, name: &'static str) -> EmbeddedFile {
        let json = Migration::new(name, Vec::new(), SchemaSnapshot::default()).to_json();
        EmbeddedFile {
            app,
            name,
            json: Box::leak(json.into_boxed_str()),
        }
    }

    fn app(label: &'static str, files: Vec<EmbeddedFile>) -> App {
        App {
            label,
            migrations: Box::leak(files.into_boxed_slice()),
            post_migrate: None,
        }
    }

    #[test]
    fn apps_go_first_and_clashes_are_errors() {
        let auth = app("auth", vec![file(Some("auth"), "0001_initial")]);
        let project = MigrationSet::from_embedded(&[file(None, "0001_initial")]).unwrap();
        let set = project.clone().with_apps(&[auth, auth]).unwrap();
        let labels: Vec<String> = set.files().iter().map(|f| f.label()).collect();
        assert_eq!(labels, ["auth/0001_initial", "0001_initial"]);
        assert!(!set.is_partial());
        assert_eq!(set.without_apps(&[auth]), project);

        let only = MigrationSet::only_apps(&[auth]).unwrap();
        assert!(only.is_partial());
        assert_eq!(only.files().len(), 1);

        // Files outside the app's directory.
        let stray = app("auth", vec![file(None, "0001_initial")]);
        assert!(matches!(
            MigrationSet::default().with_apps(&[stray]),
            Err(Error::AppConflict { app: "auth", .. })
        ));
        // The project has its own migrations for the app.
        let own = MigrationSet::from_embedded(&[file(Some("auth"), "0001_mine")]).unwrap();
        assert!(matches!(
            own.with_apps(&[auth]),
            Err(Error::AppConflict { app: "auth", .. })
        ));
    }
}
