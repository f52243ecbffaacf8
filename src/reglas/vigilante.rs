//! The watcher on `rules/`: a saved file becomes the rule in force within a
//! moment, without a restart. Access events (our own reads) are ignored, or
//! every reload would trigger the next.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use notify::{EventKind, RecursiveMode, Watcher};
use tokio::sync::mpsc;

use super::Reglas;
use crate::modelo::NombreRegla;

/// Editors write a file in several steps; changes this close together are one.
const PAUSA: Duration = Duration::from_millis(100);

/// Starts watching the rules folder for as long as the node runs.
pub fn vigilar(reglas: Reglas) -> notify::Result<()> {
    let (avisos, mut recibidos) = mpsc::unbounded_channel::<NombreRegla>();
    let mut watcher = notify::recommended_watcher(move |evento: notify::Result<notify::Event>| {
        let Ok(evento) = evento else { return };
        if matches!(evento.kind, EventKind::Access(_)) {
            return;
        }
        for ruta in &evento.paths {
            if let Some(nombre) = regla_de(ruta) {
                let _ = avisos.send(nombre);
            }
        }
    })?;
    watcher.watch(reglas.dir(), RecursiveMode::NonRecursive)?;
    tracing::info!(dir = %reglas.dir().display(), "vigilando las reglas");

    actix_web::rt::spawn(async move {
        let _watcher = watcher;
        while let Some(primera) = recibidos.recv().await {
            let mut cambiadas = BTreeSet::from([primera]);
            while let Ok(Some(otra)) = tokio::time::timeout(PAUSA, recibidos.recv()).await {
                cambiadas.insert(otra);
            }
            for nombre in cambiadas {
                match reglas.recargar_archivo(nombre).await {
                    Ok(Some(v)) => {
                        tracing::info!(regla = %nombre.archivo(), version = v.id, "regla recargada desde el archivo")
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(regla = %nombre.archivo(), error = %e, "no se recargó la regla")
                    }
                }
            }
        }
    });
    Ok(())
}

fn regla_de(ruta: &Path) -> Option<NombreRegla> {
    let archivo = ruta.file_name()?.to_str()?;
    NombreRegla::TODOS
        .iter()
        .copied()
        .find(|n| n.archivo() == archivo)
}
