#[rustango::main]
fn main() {}
