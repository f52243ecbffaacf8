//! Browser tests: the real pages of `static/` in Debian's Chromium, driven
//! through chromedriver with fantoccini, against a real comanda started in
//! this process (SQLite, demo accounts). They rely only on the DOM contract of
//! `tests/navegador/CONTRATO.md`.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver`
//! (`apt-get install chromium chromium-driver`); without them every test
//! fails — it never skips. The tests take turns (one at a time), each
//! saves screenshots of the pages it used to `docs/capturas/`, and on a
//! failed wait leaves a screenshot, the page's text and its console under
//! `target/tmp/navegador/`.

mod arnes;

mod alertas;
mod login;
mod monitor;
mod origen_ajeno;
mod reconexion;
mod reglas;
mod vouchers;
