use rustango::{Auto, Model};

#[derive(Model)]
#[rustango(tabel = "posts")]
pub struct Post {
    pub id: Auto<i64>,
}

#[derive(Model)]
pub struct Tag {
    pub id: Auto<i64>,
    #[rustango(max_lenght = 10)]
    pub name: String,
}

#[derive(Model)]
#[rustango(admin(list_dispay = "id"))]
pub struct Note {
    pub id: Auto<i64>,
}

#[derive(Model)]
#[rustango(app = "My-App")]
pub struct Label {
    pub id: Auto<i64>,
}

fn main() {}
