fn main() {
    println!("dyn53 {}", env!("CARGO_PKG_VERSION"));
}
