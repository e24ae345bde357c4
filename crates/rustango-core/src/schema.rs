use crate::ValueKind;

/// What the database does with rows that point at a deleted row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Delete them too (the default, as Django's `CASCADE`).
    Cascade,
    /// Refuse the delete.
    Restrict,
    /// Set the key to `NULL` (the field must be nullable).
    SetNull,
    /// Do nothing at delete time (the constraint is checked at commit).
    NoAction,
}

impl OnDelete {
    /// The SQL spelling.
    pub fn as_sql(self) -> &'static str {
        match self {
            OnDelete::Cascade => "CASCADE",
            OnDelete::Restrict => "RESTRICT",
            OnDelete::SetNull => "SET NULL",
            OnDelete::NoAction => "NO ACTION",
        }
    }
}

/// A foreign key's target.
#[derive(Debug, Clone, Copy)]
pub struct Relation {
    /// The target model's schema (a function, so that models may point at each other).
    pub to: fn() -> &'static ModelSchema,
    /// The delete rule.
    pub on_delete: OnDelete,
    /// The name of the reverse relation on the target (Django's `related_name`); when
    /// `None` it is the referencing table's name.
    pub related_name: Option<&'static str>,
}

/// One field of a model.
#[derive(Debug, Clone, Copy)]
pub struct FieldSchema {
    /// The Rust field name.
    pub name: &'static str,
    /// The column name (`author_id` for a foreign key `author`, or `db_column`).
    pub column: &'static str,
    /// Storage kind.
    pub kind: ValueKind,
    /// Accepts `NULL`.
    pub nullable: bool,
    /// Is the primary key.
    pub primary_key: bool,
    /// Is an `Auto<T>` field (assigned by the server or the ORM when unset).
    pub auto: bool,
    /// `VARCHAR(n)` limit for text; `None` is unlimited `TEXT`.
    pub max_length: Option<u32>,
    /// Total digits of a decimal (`NUMERIC(p, s)`).
    pub max_digits: Option<u8>,
    /// Digits after the point of a decimal.
    pub decimal_places: Option<u8>,
    /// Has a unique constraint.
    pub unique: bool,
    /// Has its own index.
    pub index: bool,
    /// SQL default expression, used verbatim in DDL.
    pub default: Option<&'static str>,
    /// Set to the current time on insert.
    pub auto_now_add: bool,
    /// Set to the current time on every save.
    pub auto_now: bool,
    /// Set to a new UUIDv4 on insert.
    pub auto_uuid: bool,
    /// The soft-delete timestamp of the model.
    pub soft_delete: bool,
    /// The target when this field is a foreign key.
    pub relation: Option<Relation>,
}

impl FieldSchema {
    /// A plain field with everything else off; the derive fills in the rest.
    pub const fn new(name: &'static str, column: &'static str, kind: ValueKind) -> Self {
        FieldSchema {
            name,
            column,
            kind,
            nullable: false,
            primary_key: false,
            auto: false,
            max_length: None,
            max_digits: None,
            decimal_places: None,
            unique: false,
            index: false,
            default: None,
            auto_now_add: false,
            auto_now: false,
            auto_uuid: false,
            soft_delete: false,
            relation: None,
        }
    }

    /// Whether the ORM fills this field on insert when it is unset.
    pub fn filled_on_insert(&self) -> bool {
        self.auto_now_add || self.auto_now || self.auto_uuid
    }
}

/// A (possibly composite, possibly unique) index.
#[derive(Debug, Clone, Copy)]
pub struct IndexSchema {
    /// Index name.
    pub name: &'static str,
    /// Column names, in order.
    pub columns: &'static [&'static str],
    /// Unique index.
    pub unique: bool,
}

/// A named `CHECK` constraint.
#[derive(Debug, Clone, Copy)]
pub struct CheckSchema {
    /// Constraint name.
    pub name: &'static str,
    /// SQL boolean expression, as written by the model's author.
    pub expr: &'static str,
}

/// A many-to-many relation through a junction table.
#[derive(Debug, Clone, Copy)]
pub struct M2MSchema {
    /// Relation name (`tags` gives `post.tags_m2m()`).
    pub name: &'static str,
    /// Target table.
    pub to: &'static str,
    /// Junction table.
    pub through: &'static str,
    /// Junction column pointing at this model.
    pub src: &'static str,
    /// Junction column pointing at the target.
    pub dst: &'static str,
}

/// A titled group of fields on the admin's edit form.
#[derive(Debug, Clone, Copy)]
pub struct Fieldset {
    /// Group title.
    pub title: &'static str,
    /// Field names.
    pub fields: &'static [&'static str],
}

/// Options of the auto-admin (`#[rustango(admin(...))]`).
#[derive(Debug, Clone, Copy, Default)]
pub struct AdminOptions {
    /// Columns of the list view.
    pub list_display: &'static [&'static str],
    /// Fields searched by `?q=`.
    pub search_fields: &'static [&'static str],
    /// Facet filters.
    pub list_filter: &'static [&'static str],
    /// Default order: field name and `true` for descending.
    pub ordering: &'static [(&'static str, bool)],
    /// Page size.
    pub list_per_page: Option<u32>,
    /// Shown but not editable.
    pub readonly_fields: &'static [&'static str],
    /// Form layout.
    pub fieldsets: &'static [Fieldset],
    /// Bulk actions offered.
    pub actions: &'static [&'static str],
}

/// Audit-log options (`#[rustango(audit(track = "..."))]`).
#[derive(Debug, Clone, Copy)]
pub struct AuditOptions {
    /// Fields whose before/after values are recorded.
    pub track: &'static [&'static str],
}

/// The static description of a model, produced once by `#[derive(Model)]`.
#[derive(Debug, Clone, Copy)]
pub struct ModelSchema {
    /// The Rust type name.
    pub name: &'static str,
    /// The module that declares it (used to name apps).
    pub module_path: &'static str,
    /// The app it belongs to when set with `#[rustango(app = "...")]`; otherwise the
    /// app is named after the module (see `rustango_migrate::app_label`).
    pub app: Option<&'static str>,
    /// The table name.
    pub table: &'static str,
    /// The field shown when a row is the target of a foreign key.
    pub display: Option<&'static str>,
    /// Fields, in declaration order.
    pub fields: &'static [FieldSchema],
    /// Index of the primary key in `fields`.
    pub pk: usize,
    /// Composite and named indexes (single-field indexes are on the field).
    pub indexes: &'static [IndexSchema],
    /// `CHECK` constraints.
    pub checks: &'static [CheckSchema],
    /// Many-to-many relations.
    pub m2m: &'static [M2MSchema],
    /// Admin options.
    pub admin: AdminOptions,
    /// Audit options, when audited.
    pub audit: Option<AuditOptions>,
    /// Whether CRUD permission codenames are created for the model.
    pub permissions: bool,
}

impl ModelSchema {
    /// The primary-key field.
    pub fn pk_field(&self) -> &'static FieldSchema {
        &self.fields[self.pk]
    }

    /// A field by Rust name.
    pub fn field(&self, name: &str) -> Option<&'static FieldSchema> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The position of a field by Rust name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// A field by column name.
    pub fn field_by_column(&self, column: &str) -> Option<&'static FieldSchema> {
        self.fields.iter().find(|f| f.column == column)
    }

    /// The soft-delete field, if the model has one.
    pub fn soft_delete_field(&self) -> Option<&'static FieldSchema> {
        self.fields.iter().find(|f| f.soft_delete)
    }

    /// Permission codenames (`add_post`, `change_post`, `delete_post`, `view_post`) when
    /// `permissions` is on.
    pub fn permission_codenames(&self) -> Vec<String> {
        if !self.permissions {
            return Vec::new();
        }
        let m = self.name.to_ascii_lowercase();
        ["add", "change", "delete", "view"]
            .iter()
            .map(|a| format!("{a}_{m}"))
            .collect()
    }
}
