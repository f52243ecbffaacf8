//! The shipped rules, for tests: each server gets a copy it may write to.
//! Shared by the test binaries through `#[path]`.

// Each test binary that includes this file uses a part of it.
#![allow(dead_code)]

/// The repository's `rules/`.
pub const REGLAS_DE_FABRICA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");

/// A temporary folder with the shipped `rules/*.rhai`.
pub fn copia_de_las_reglas() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("carpeta temporal");
    for entrada in std::fs::read_dir(REGLAS_DE_FABRICA).expect("rules/") {
        let ruta = entrada.unwrap().path();
        if ruta.extension().is_some_and(|e| e == "rhai") {
            std::fs::copy(&ruta, dir.path().join(ruta.file_name().unwrap())).unwrap();
        }
    }
    dir
}
