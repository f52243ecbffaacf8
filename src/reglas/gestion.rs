//! `Reglas`: the rules as the node manages them — the files in `rules/`, the
//! versions in the store, the engine in memory — kept in step whether a rule
//! changes through the API or by editing its file.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use time::UtcOffset;
use tokio::sync::{Mutex, mpsc};

use super::{ErrorCompilacion, Fallo, LimitesReglas, RuleEngine};
use crate::metricas::{self, CausaFallo};
use crate::modelo::payload::en_mapa;
use crate::modelo::{
    Audiencia, Destinos, Entidad, Evento, NombreRegla, NuevoEvento, TipoEntidad, TipoEvento,
    Usuario, VersionRegla,
};
use crate::realtime::subscriber::Subscriber;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum GestionError {
    #[error("la regla no compila: {0}")]
    NoCompila(ErrorCompilacion),
    #[error("la versión {0} no existe")]
    VersionInexistente(i64),
    #[error("no se pudo escribir {archivo}: {error}")]
    Archivo {
        archivo: String,
        error: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a saved version came from.
#[derive(Debug, Clone, Copy)]
enum Origen {
    Api,
    Archivo,
    Restauracion(i64),
}

/// The rules of this node. Cheap to clone.
#[derive(Clone)]
pub struct Reglas {
    motor: Arc<RuleEngine>,
    store: Store,
    dir: PathBuf,
    /// One save at a time, whichever path it comes by.
    guardando: Arc<Mutex<()>>,
}

impl Reglas {
    /// Loads every rule from `dir` and records, as a new version by nobody,
    /// any file that changed while the node was down. A file that does not
    /// compile leaves its rule to the built-in default, loudly.
    pub async fn iniciar(
        store: Store,
        dir: PathBuf,
        zona: UtcOffset,
        limites: LimitesReglas,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Fallo>), StoreError> {
        let (motor, fallos) = RuleEngine::con_limites(zona, limites);
        let reglas = Self {
            motor: Arc::new(motor),
            store,
            dir,
            guardando: Arc::new(Mutex::new(())),
        };
        for nombre in NombreRegla::TODOS {
            match reglas.recargar_archivo(*nombre).await {
                Ok(_) => {}
                Err(GestionError::Store(e)) => return Err(e),
                Err(e) => {
                    tracing::error!(regla = %nombre.archivo(), error = %e, "regla no cargada: decide el valor por defecto")
                }
            }
        }
        Ok((reglas, fallos))
    }

    pub fn motor(&self) -> &Arc<RuleEngine> {
        &self.motor
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn ruta(&self, nombre: NombreRegla) -> PathBuf {
        self.dir.join(nombre.archivo())
    }

    /// The source in force, or the file's if none compiled.
    pub async fn fuente(&self, nombre: NombreRegla) -> Option<String> {
        match self.motor.activa(nombre) {
            Some(c) => Some(c.fuente.clone()),
            None => tokio::fs::read_to_string(self.ruta(nombre)).await.ok(),
        }
    }

    /// Compiles `fuente` (on the rules' background lane) and drops it.
    pub async fn validar(
        &self,
        nombre: NombreRegla,
        fuente: String,
    ) -> Result<(), ErrorCompilacion> {
        self.motor
            .decidir_compilacion(nombre, fuente)
            .await
            .map(|_| ())
    }

    /// `PUT /api/reglas/{nombre}`: compile, record the version (and its
    /// `regla_actualizada` event), write the file, swap. A script that does not
    /// compile changes nothing.
    pub async fn guardar(
        &self,
        nombre: NombreRegla,
        fuente: &str,
        autor: &Usuario,
    ) -> Result<VersionRegla, GestionError> {
        self.guardar_desde(nombre, fuente, Some(autor), Origen::Api)
            .await
    }

    /// Makes an old version active again, recorded as a new version.
    pub async fn restaurar(
        &self,
        nombre: NombreRegla,
        version: i64,
        autor: &Usuario,
    ) -> Result<VersionRegla, GestionError> {
        let antigua = self
            .store
            .version(nombre, version)
            .await?
            .ok_or(GestionError::VersionInexistente(version))?;
        self.guardar_desde(
            nombre,
            &antigua.fuente,
            Some(autor),
            Origen::Restauracion(version),
        )
        .await
    }

    pub async fn versiones(&self, nombre: NombreRegla) -> Result<Vec<VersionRegla>, StoreError> {
        self.store.versiones(nombre).await
    }

    /// The watcher's path: the file changed on disk. Same source as the rule
    /// in force → nothing (it was our own write). Otherwise compile; if it
    /// does not, the old rule stays and the monitor is told.
    pub async fn recargar_archivo(
        &self,
        nombre: NombreRegla,
    ) -> Result<Option<VersionRegla>, GestionError> {
        let ruta = self.ruta(nombre);
        let fuente = match tokio::fs::read_to_string(&ruta).await {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(GestionError::Archivo {
                    archivo: ruta.display().to_string(),
                    error,
                });
            }
        };
        if self
            .motor
            .activa(nombre)
            .is_some_and(|c| c.fuente == fuente)
        {
            return Ok(None);
        }
        match self
            .guardar_desde(nombre, &fuente, None, Origen::Archivo)
            .await
        {
            Err(GestionError::NoCompila(e)) => {
                tracing::error!(regla = %nombre.archivo(), linea = e.linea, columna = e.columna, mensaje = %e.mensaje, "el archivo no compila: sigue la regla anterior");
                self.publicar_fallo(&Fallo {
                    regla: nombre,
                    linea: e.linea,
                    columna: e.columna,
                    mensaje: format!(
                        "el archivo no compila, sigue la versión anterior: {}",
                        e.mensaje
                    ),
                    sucursal_id: None,
                    causa: CausaFallo::Compilacion,
                })
                .await;
                Err(GestionError::NoCompila(e))
            }
            otro => otro.map(Some),
        }
    }

    /// A version was saved on another node (its `regla_actualizada` reached
    /// this one): put the store's active version in force here too, and in
    /// this node's file, without recording a new version. Answers whether
    /// anything changed (not when the version is already in force).
    pub async fn adoptar_vigente(&self, nombre: NombreRegla) -> Result<bool, GestionError> {
        let _turno = self.guardando.lock().await;
        let Some(vigente) = self.store.version_activa(nombre).await? else {
            return Ok(false);
        };
        if self
            .motor
            .activa(nombre)
            .is_some_and(|c| c.fuente == vigente.fuente)
        {
            return Ok(false);
        }
        let compilada = self
            .motor
            .decidir_compilacion(nombre, vigente.fuente.clone())
            .await
            .map_err(GestionError::NoCompila)?;
        // In force first: the watcher then finds the file equal to the rule.
        self.motor.instalar(nombre, compilada);
        escribir_atomico(&self.ruta(nombre), &vigente.fuente)
            .await
            .map_err(|error| GestionError::Archivo {
                archivo: self.ruta(nombre).display().to_string(),
                error,
            })?;
        tracing::info!(regla = %nombre.archivo(), version = vigente.id, "regla en vigor, guardada en otro nodo");
        Ok(true)
    }

    async fn guardar_desde(
        &self,
        nombre: NombreRegla,
        fuente: &str,
        autor: Option<&Usuario>,
        origen: Origen,
    ) -> Result<VersionRegla, GestionError> {
        let compilada = self
            .motor
            .decidir_compilacion(nombre, fuente.to_owned())
            .await
            .map_err(|e| {
                metricas::regla_fallida(nombre, CausaFallo::Compilacion);
                GestionError::NoCompila(e)
            })?;
        let _turno = self.guardando.lock().await;
        let ya_vigente = self
            .store
            .version_activa(nombre)
            .await?
            .filter(|v| v.fuente == fuente);
        let version = match ya_vigente {
            // The file was saved while the node was down, or by us: same source, no new version.
            Some(v) if matches!(origen, Origen::Archivo) => v,
            _ => {
                self.store
                    .guardar_version(nombre, fuente, autor.map(|a| a.id), |v| {
                        evento_actualizada(v, autor, origen)
                    })
                    .await?
            }
        };
        if !matches!(origen, Origen::Archivo) {
            escribir_atomico(&self.ruta(nombre), fuente)
                .await
                .map_err(|error| GestionError::Archivo {
                    archivo: self.ruta(nombre).display().to_string(),
                    error,
                })?;
        }
        self.motor.instalar(nombre, compilada);
        tracing::info!(regla = %nombre.archivo(), version = version.id, autor = autor.map(|a| a.usuario.as_str()), "regla en vigor");
        Ok(version)
    }

    /// Publishes a rule failure for the monitors.
    async fn publicar_fallo(&self, fallo: &Fallo) {
        let payload = PayloadReglaFallida {
            regla: fallo.regla,
            linea: fallo.linea,
            columna: fallo.columna,
            mensaje: fallo.mensaje.clone(),
        };
        let evento = NuevoEvento {
            tipo: TipoEvento::ReglaFallida,
            subtipo: Some(fallo.regla.as_str().into()),
            payload: en_mapa(&payload),
            usuario_id: None,
            sucursal_id: fallo.sucursal_id,
            entidad: None,
            prioridad: None,
            destinos: Destinos::de(&[Audiencia::Admin]),
        };
        if let Err(e) = self.store.publicar(&evento).await {
            tracing::warn!(error = %e, "no se pudo publicar regla_fallida");
        }
    }

    /// Publishes run-time failures as `regla_fallida` events, at most one per
    /// rule and message every few seconds (a broken rule fails on every
    /// event; the counter and the log see each one).
    pub async fn reportar_fallos(self, mut fallos: mpsc::UnboundedReceiver<Fallo>) {
        const INTERVALO: Duration = Duration::from_secs(5);
        let mut ultimos: Vec<(NombreRegla, String, Instant)> = Vec::new();
        while let Some(fallo) = fallos.recv().await {
            ultimos.retain(|(_, _, t)| t.elapsed() < INTERVALO);
            if ultimos
                .iter()
                .any(|(r, m, _)| *r == fallo.regla && *m == fallo.mensaje)
            {
                continue;
            }
            ultimos.push((fallo.regla, fallo.mensaje.clone(), Instant::now()));
            self.publicar_fallo(&fallo).await;
        }
    }
}

/// The payload of `regla_fallida`: which rule failed, where in its source
/// (when it did not compile) and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadReglaFallida {
    pub regla: NombreRegla,
    pub linea: Option<usize>,
    pub columna: Option<usize>,
    pub mensaje: String,
}

/// The payload of `regla_actualizada`: the version now in force, who saved
/// it and how (`api`, `archivo`, or `restauracion` of version `restaura`).
/// Other nodes adopt the version on reading the event's `subtipo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadReglaActualizada {
    pub nombre: NombreRegla,
    pub version: i64,
    /// The author's `usuario`; `null` for an edited file.
    pub autor: Option<String>,
    pub origen: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restaura: Option<i64>,
}

/// Cross-node adoption: subscribed to `regla_actualizada` (see
/// `Realtime::iniciar`), saved on any node, this node adopts the version in
/// force ([`Reglas::adoptar_vigente`]), off the Dispatcher's thread.
impl Subscriber for Reglas {
    fn recibir(&self, evento: &Evento) {
        let Some(nombre) = evento
            .subtipo
            .as_deref()
            .and_then(|s| NombreRegla::TODOS.iter().copied().find(|n| n.as_str() == s))
        else {
            return;
        };
        let reglas = self.clone();
        actix_web::rt::spawn(async move {
            if let Err(e) = reglas.adoptar_vigente(nombre).await {
                tracing::error!(regla = %nombre.archivo(), error = %e, "no se pudo adoptar la regla guardada en otro nodo");
            }
        });
    }
}

fn evento_actualizada(v: &VersionRegla, autor: Option<&Usuario>, origen: Origen) -> NuevoEvento {
    let (origen, restaura) = match origen {
        Origen::Api => ("api", None),
        Origen::Archivo => ("archivo", None),
        Origen::Restauracion(n) => ("restauracion", Some(n)),
    };
    let payload = PayloadReglaActualizada {
        nombre: v.nombre,
        version: v.id,
        autor: autor.map(|a| a.usuario.clone()),
        origen,
        restaura,
    };
    NuevoEvento {
        tipo: TipoEvento::ReglaActualizada,
        subtipo: Some(v.nombre.as_str().into()),
        payload: en_mapa(&payload),
        usuario_id: autor.map(|a| a.id),
        sucursal_id: None,
        entidad: Some(Entidad {
            tipo: TipoEntidad::Regla,
            id: v.id,
        }),
        prioridad: None,
        destinos: Destinos::de(&[Audiencia::Admin]),
    }
}

/// Writes through a temporary file and a rename, so that the watcher (and a
/// crash) never sees half a script.
async fn escribir_atomico(ruta: &Path, contenido: &str) -> std::io::Result<()> {
    let tmp = ruta.with_extension("rhai.tmp");
    tokio::fs::write(&tmp, contenido).await?;
    tokio::fs::rename(&tmp, ruta).await
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use time::OffsetDateTime;

    use super::*;
    use crate::modelo::{Rol, UsuarioId};

    fn version(id: i64) -> VersionRegla {
        VersionRegla {
            id,
            nombre: NombreRegla::Destinos,
            fuente: String::new(),
            autor_id: None,
            creada: OffsetDateTime::UNIX_EPOCH,
            activa: true,
        }
    }

    /// Both payloads against the `json!` they were built with before.
    #[test]
    fn los_payloads_de_las_reglas_son_el_json_de_siempre() {
        let jefa = Usuario {
            id: UsuarioId(1),
            usuario: "jefa".into(),
            nombre: "Jefa".into(),
            rol: Rol::Superadmin,
            sucursal_id: None,
            activo: true,
            creado: OffsetDateTime::UNIX_EPOCH,
        };
        let por_api = evento_actualizada(&version(4), Some(&jefa), Origen::Api);
        assert_eq!(
            Value::Object(por_api.payload),
            json!({"nombre": NombreRegla::Destinos, "version": 4_i64, "autor": Some("jefa"),
                   "origen": "api"})
        );
        let restaurada = evento_actualizada(&version(5), None, Origen::Restauracion(2));
        assert_eq!(
            Value::Object(restaurada.payload),
            json!({"nombre": NombreRegla::Destinos, "version": 5_i64, "autor": None::<&str>,
                   "origen": "restauracion", "restaura": 2_i64})
        );
        assert_eq!(restaurada.tipo, TipoEvento::ReglaActualizada);

        let fallida = PayloadReglaFallida {
            regla: NombreRegla::Prioridad,
            linea: Some(3),
            columna: None,
            mensaje: "rojo".into(),
        };
        assert_eq!(
            Value::Object(en_mapa(&fallida)),
            json!({"regla": NombreRegla::Prioridad, "linea": Some(3_usize),
                   "columna": None::<usize>, "mensaje": "rojo"})
        );
    }
}
