use rustango::{Auto, Model};

#[derive(Model)]
pub struct A {
    pub id: Auto<i64>,
    #[rustango(null)]
    pub title: String,
}

#[derive(Model)]
pub struct B {
    pub id: Auto<i64>,
    #[rustango(auto_now_add)]
    pub created: i64,
}

#[derive(Model)]
pub struct C {
    pub id: Auto<i64>,
    #[rustango(max_length = 5)]
    pub count: i32,
}

#[derive(Model)]
pub struct D {
    pub id: Auto<i64>,
    pub title: String,
}

fn main() {
    use rustango::core::Column as _;
    let _ = D::id.eq("not a number");
    let _ = D::id.contains("x");
}
