use rustango::{Auto, Model};

#[derive(Model)]
#[rustango(admin(list_display = "id, titel"))]
pub struct A {
    pub id: Auto<i64>,
    pub title: String,
}

#[derive(Model)]
#[rustango(index("title, missing"))]
pub struct B {
    pub id: Auto<i64>,
    pub title: String,
}

#[derive(Model)]
#[rustango(audit(track = "body"))]
pub struct C {
    pub id: Auto<i64>,
    pub title: String,
}

#[derive(Model)]
#[rustango(admin(ordering = "-published"))]
pub struct D {
    pub id: Auto<i64>,
    pub title: String,
}

#[derive(Model)]
pub struct NoKey {
    pub title: String,
}

fn main() {}
