//! `/api/eventos` (publish, audit), `/api/eventos/vivo` (the in-memory ring)
//! and `/api/estadisticas` (counters).

use actix_web::{HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Lista, sucursal_de_consulta};
use crate::auth::{Alcance, Autenticado, Permiso};
use crate::error::ApiError;
use crate::eventos::{self, PublicarError};
use crate::realtime::estadisticas::Estadisticas;
use crate::realtime::{NoResponde, Realtime};
use crate::reglas::Reglas;
use crate::store::{FilaNodo, FiltroEventos, Store};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(publicar)
        .service(auditoria)
        .service(en_vivo)
        .service(estadisticas);
}

impl From<PublicarError> for ApiError {
    fn from(e: PublicarError) -> Self {
        match e {
            PublicarError::Prohibido | PublicarError::FueraDeAlcance(_) => ApiError::Prohibido,
            PublicarError::SucursalInexistente(_) => ApiError::NoEncontrado(e.to_string()),
            PublicarError::Invalido(m) => ApiError::Invalida(m),
            PublicarError::Reservado(_) => ApiError::EventoReservado(e.to_string()),
            PublicarError::Store(e) => e.into(),
        }
    }
}

impl From<NoResponde> for ApiError {
    fn from(e: NoResponde) -> Self {
        ApiError::interno(e.to_string())
    }
}

/// Seed-compatible: the flat JSON of the seed's `notify()`.
#[post("/eventos")]
async fn publicar(
    store: web::Data<Store>,
    reglas: web::Data<Reglas>,
    quien: Autenticado,
    body: web::Json<Map<String, Value>>,
) -> Result<HttpResponse, ApiError> {
    let autor = quien.exigir(Permiso::PublicarEventos)?;
    let evento = eventos::publicar_plano(&store, reglas.motor(), autor, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(evento))
}

#[derive(Deserialize)]
struct ConsultaAuditoria {
    limit: Option<i64>,
    tipo: Option<String>,
    sucursal_id: Option<i64>,
}

/// The audit log from the store, newest first, within the caller's scope.
#[get("/eventos")]
async fn auditoria(
    store: web::Data<Store>,
    quien: Autenticado,
    consulta: web::Query<ConsultaAuditoria>,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::VerAuditoria)?;
    let sucursal_id = sucursal_de_consulta(&quien, consulta.sucursal_id)?;
    let filtro = FiltroEventos {
        limit: consulta.limit.unwrap_or(30).clamp(1, 1000),
        tipo: consulta.tipo.clone().filter(|t| !t.is_empty()),
        sucursal_id,
    };
    let ultimo_id = store.ultimo_evento_id().await?;
    let items = store.eventos(&filtro).await?;
    Ok(HttpResponse::Ok().json(Lista { ultimo_id, items }))
}

/// The ring of the last 1000 events dispatched by this node, oldest first.
#[get("/eventos/vivo")]
async fn en_vivo(
    realtime: web::Data<Realtime>,
    quien: Autenticado,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::VerEventosEnVivo)?;
    let anillo = realtime.en_vivo().await?;
    // The envelopes are already JSON: splice their bytes instead of re-encoding.
    let mut cuerpo =
        String::with_capacity(64 + anillo.iter().map(|e| e.json.len() + 1).sum::<usize>());
    cuerpo.push_str(&format!("{{\"total\":{},\"items\":[", anillo.len()));
    for (i, evento) in anillo.iter().enumerate() {
        if i > 0 {
            cuerpo.push(',');
        }
        cuerpo.push_str(&evento.json);
    }
    cuerpo.push_str("]}");
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(cuerpo))
}

/// Events since start and open sessions on this node, within the caller's
/// scope; and the nodes serving the database.
#[get("/estadisticas")]
async fn estadisticas(
    realtime: web::Data<Realtime>,
    store: web::Data<Store>,
    quien: Autenticado,
) -> Result<HttpResponse, ApiError> {
    quien.exigir(Permiso::VerAuditoria)?;
    let mut e = realtime.estadisticas().await?;
    let sesiones_del_nodo = e.sesiones_total;
    if let Alcance::Sucursal(mia) = quien.alcance() {
        e.sesiones.retain(|s| s.sucursal_id == Some(mia));
        e.presencia.retain(|p| p.sucursal_id == mia);
        e.cocinas.retain(|c| c.sucursal == mia);
        e.sesiones_total = e.sesiones.iter().map(|s| s.sesiones).sum();
    }
    let nodo = realtime.nodo();
    let nodos = nodo
        .vivos(&store)
        .await?
        .into_iter()
        .map(|mut fila| {
            let propio = fila.id == *nodo.id;
            if propio {
                // Live, not as of the last heartbeat.
                fila.sesiones = sesiones_del_nodo as i64;
            }
            NodoVivo { fila, propio }
        })
        .collect();
    Ok(HttpResponse::Ok().json(ConNodos {
        estadisticas: e,
        nodo: &nodo.id,
        nodos,
    }))
}

#[derive(Serialize)]
struct ConNodos<'a> {
    #[serde(flatten)]
    estadisticas: Estadisticas,
    /// The node that answers.
    nodo: &'a str,
    nodos: Vec<NodoVivo>,
}

#[derive(Serialize)]
struct NodoVivo {
    #[serde(flatten)]
    fila: FilaNodo,
    propio: bool,
}
