//! The HTTP surface: routes, body and rate limits, and the handlers, one file
//! per area. Handlers are thin: parse, authorize, call the domain, answer.

mod administracion;
mod body;
pub mod connection;
mod csrf;
mod cuentas;
mod eventos;
mod flujos;
mod idempotencia;
mod reglas;
mod salud;
pub mod traspaso;
mod ws;

pub use body::{LIMITE_CUERPO, leer_cuerpo};
pub use csrf::OrigenesPermitidos;

use std::path::Path;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::{DefaultHeaders, Next, from_fn};
use actix_web::{HttpResponse, web};
use serde::Serialize;

use crate::auth::{Alcance, Autenticado, autenticar};
use crate::error::{ApiError, json_error, path_error, query_error};
use crate::metricas;
use crate::modelo::{EventoId, SucursalId};
use crate::realtime::Realtime;

/// Headers on every answer, pages and API alike: scripts only from our own
/// files (no inline script), sockets to ourselves, never inside a frame.
pub fn cabeceras_de_seguridad() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
             connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; form-action 'self'; \
             frame-ancestors 'none'",
        ))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

/// `GET /ws`.
pub fn socket(cfg: &mut web::ServiceConfig) {
    ws::configure(cfg);
}

/// Every other route: the API, the probes, and the pages of `static_dir`.
pub fn configure(cfg: &mut web::ServiceConfig, static_dir: &Path) {
    cfg.app_data(
        web::JsonConfig::default()
            .limit(LIMITE_CUERPO)
            .error_handler(json_error),
    )
    .app_data(web::PayloadConfig::default().limit(LIMITE_CUERPO))
    .app_data(web::PathConfig::default().error_handler(path_error))
    .app_data(web::QueryConfig::default().error_handler(query_error))
    .configure(salud::configure)
    .service(
        web::scope("/api")
            .wrap(from_fn(limitar_servicio))
            .wrap(from_fn(csrf::exigir_origen))
            .configure(cuentas::configure)
            .configure(administracion::configure)
            .configure(eventos::configure)
            .configure(reglas::configure)
            .configure(flujos::configure)
            .default_service(web::to(ruta_desconocida)),
    );
    if static_dir.is_dir() {
        cfg.service(actix_files::Files::new("/", static_dir).index_file("index.html"));
    }
}

/// A write by a `servicio` login over its rate gets 429 with `Retry-After`
/// before its handler runs (see `realtime::limite::LimitePorToken`): each
/// request counts once, here. Only writes that carry a credential are
/// looked at, through [`auth::autenticar`](crate::auth::autenticar), which
/// keeps the caller in the request: the handler's extractor does not look
/// again (and works the same where this middleware does not run).
///
/// A credential that names no session is the handler's to refuse (a route
/// may not need one), but a database that can't be reached is answered 503
/// here: letting the request through would only wait for a connection a
/// second time — a write stalled through a whole outage and then
/// acknowledged, instead of refused while it lasted.
async fn limitar_servicio(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let escribe = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let credencial = req.headers().contains_key(header::AUTHORIZATION)
        || req.cookie(crate::auth::COOKIE_SESION).is_some();
    if escribe
        && credencial
        && let Some(realtime) = req.app_data::<web::Data<Realtime>>()
    {
        match autenticar(req.request()).await {
            Ok(quien) => {
                if let Err(espera) = realtime.permitir_escritura(&quien) {
                    tracing::info!(usuario = %quien.usuario.usuario, ?espera, "servicio por encima de su ritmo: 429");
                    return Ok(req
                        .error_response(ApiError::DemasiadasPeticiones(espera))
                        .map_into_right_body());
                }
            }
            Err(e @ ApiError::NoDisponible) => {
                return Ok(req.error_response(e).map_into_right_body());
            }
            Err(_) => {}
        }
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Counts and times every answered request for `/metrics`, by the route
/// pattern that matched — `/api/pedidos/{id}/aprobar`, never the path, whose
/// ids would open a series each; a path that matched no route is
/// [`metricas::RUTA_DESCONOCIDA`]. For `/ws` the time is the handshake's, not
/// the socket's life.
pub async fn medir(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let inicio = Instant::now();
    let metodo = metricas::metodo(req.method());
    let resultado = next.call(req).await;
    let (ruta, estado) = match &resultado {
        Ok(res) => (patron_de_ruta(res.request(), res.status()), res.status()),
        Err(e) => (None, e.as_response_error().status_code()),
    };
    let ruta = ruta.unwrap_or_else(|| metricas::RUTA_DESCONOCIDA.to_owned());
    metricas::peticion(ruta, metodo, estado.as_u16(), inicio.elapsed());
    resultado
}

/// The pattern of the resource that answered: `None` for a default service
/// (an unknown `/api` path) and for a page that does not exist; the pages
/// that do (actix-files at the root, whose pattern is empty) share one.
fn patron_de_ruta(req: &actix_web::HttpRequest, estado: StatusCode) -> Option<String> {
    match req.match_pattern()? {
        pagina if pagina.is_empty() && estado == StatusCode::NOT_FOUND => None,
        pagina if pagina.is_empty() => Some(PAGINAS.to_owned()),
        patron => Some(patron),
    }
}

/// The route label of every page of `static_dir`.
const PAGINAS: &str = "/{pagina}";

async fn ruta_desconocida() -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoEncontrado("esa ruta no existe".into()))
}

/// The sucursal filter of a list: what was asked, within the caller's scope
/// (403 outside it); a single-sucursal caller always gets its own.
pub fn sucursal_de_consulta(
    quien: &Autenticado,
    pedida: Option<i64>,
) -> Result<Option<SucursalId>, ApiError> {
    match (quien.alcance(), pedida.map(SucursalId)) {
        (Alcance::Cadena, pedida) => Ok(pedida),
        (Alcance::Sucursal(mia), Some(s)) if s != mia => Err(ApiError::Prohibido),
        (Alcance::Sucursal(mia), _) => Ok(Some(mia)),
    }
}

/// A list as the API answers it: `ultimo_id` is the newest event id at the
/// time of reading, so a page can load the list and then resume its socket
/// from there without missing anything.
#[derive(Debug, Serialize)]
pub struct Lista<T> {
    pub ultimo_id: EventoId,
    pub items: Vec<T>,
}

#[cfg(test)]
mod tests {
    //! The caller is looked up once per request: by the `servicio` rate
    //! limit when it runs, by the handler's extractor when it does not.

    use std::num::NonZeroU32;

    use actix_web::http::StatusCode;
    use actix_web::http::header::AUTHORIZATION;
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};
    use time::OffsetDateTime;

    use super::limitar_servicio;
    use crate::auth::{Autenticado, COOKIE_SESION, Token, autenticar, cerrar_sesion};
    use crate::config::{Settings, StoreSettings};
    use crate::error::ApiError;
    use crate::modelo::{Rol, Usuario};
    use crate::realtime::Realtime;
    use crate::realtime::nodo::Nodo;
    use crate::reglas::Reglas;
    use crate::store::Store;

    /// A store in `dir` with the demo accounts, and a new login of the
    /// first one of role `rol`.
    async fn con_un_login(dir: &tempfile::TempDir, rol: Rol) -> (Store, Usuario, Token) {
        let store = Store::open(&StoreSettings {
            database_url: format!("sqlite://{}", dir.path().join("d.db").display()),
            db_max_connections: 2,
        })
        .await
        .unwrap();
        let (_, usuarios) = crate::cuentas::demo(&store).await.unwrap();
        let usuario = usuarios.into_iter().find(|u| u.rol == rol).unwrap();
        let token = Token::generar();
        abrir(&store, &usuario, &token).await;
        (store, usuario, token)
    }

    /// Records the login `token` of `usuario`, valid for an hour.
    async fn abrir(store: &Store, usuario: &Usuario, token: &Token) {
        let ahora = OffsetDateTime::now_utc();
        store
            .crear_sesion(
                token.hash().as_str(),
                usuario.id,
                ahora,
                ahora + time::Duration::hours(1),
            )
            .await
            .unwrap();
    }

    fn bearer(token: &Token) -> (actix_web::http::header::HeaderName, String) {
        (AUTHORIZATION, format!("Bearer {}", token.as_str()))
    }

    /// A handler that asks for its caller twice, as one with two extractors does.
    async fn quien(a: Autenticado, b: Autenticado) -> HttpResponse {
        assert_eq!(a.usuario.id, b.usuario.id);
        HttpResponse::Ok().body(a.usuario.usuario)
    }

    #[actix_web::test]
    async fn sin_el_middleware_el_extractor_autentica_por_token_y_por_cookie() {
        let dir = tempfile::tempdir().unwrap();
        let (store, usuario, token) = con_un_login(&dir, Rol::Cocina).await;
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(store))
                .route("/quien", web::get().to(quien)),
        )
        .await;

        let por_token = test::TestRequest::get()
            .uri("/quien")
            .insert_header(bearer(&token))
            .to_request();
        let por_cookie = test::TestRequest::get()
            .uri("/quien")
            .cookie(actix_web::cookie::Cookie::new(
                COOKIE_SESION,
                token.as_str().to_owned(),
            ))
            .to_request();
        for peticion in [por_token, por_cookie] {
            let r = test::call_service(&app, peticion).await;
            assert_eq!(r.status(), StatusCode::OK);
            assert_eq!(test::read_body(r).await, usuario.usuario.as_bytes());
        }

        let sin_credencial = test::TestRequest::get().uri("/quien").to_request();
        let con_otro_token = test::TestRequest::get()
            .uri("/quien")
            .insert_header(bearer(&Token::generar()))
            .to_request();
        for peticion in [sin_credencial, con_otro_token] {
            let r = test::call_service(&app, peticion).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
    }

    #[actix_web::test]
    async fn una_peticion_busca_a_su_autor_una_sola_vez() {
        let dir = tempfile::tempdir().unwrap();
        let (store, usuario, token) = con_un_login(&dir, Rol::Atencion).await;
        let peticion = || {
            test::TestRequest::get()
                .insert_header(bearer(&token))
                .app_data(web::Data::new(store.clone()))
                .to_http_request()
        };
        let antes = peticion();
        assert_eq!(autenticar(&antes).await.unwrap().usuario.id, usuario.id);

        // The login ends: the request that already found it keeps its
        // answer; the next request finds nothing.
        cerrar_sesion(&store, &usuario, &token).await.unwrap();
        assert_eq!(autenticar(&antes).await.unwrap().usuario.id, usuario.id);
        let despues = peticion();
        assert!(matches!(
            autenticar(&despues).await,
            Err(ApiError::NoAutenticado)
        ));

        // Nor is "nobody" looked up twice.
        abrir(&store, &usuario, &token).await;
        assert!(matches!(
            autenticar(&despues).await,
            Err(ApiError::NoAutenticado)
        ));
        assert!(autenticar(&peticion()).await.is_ok());
    }

    #[actix_web::test]
    async fn el_ritmo_de_un_servicio_cuenta_una_vez_por_peticion() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _, token) = con_un_login(&dir, Rol::Servicio).await;
        let mut settings = Settings::defaults();
        settings.realtime.servicio_eventos_por_segundo = NonZeroU32::MIN;
        settings.realtime.servicio_rafaga = NonZeroU32::new(3).unwrap();
        let (reglas, _) = Reglas::iniciar(
            store.clone(),
            concat!(env!("CARGO_MANIFEST_DIR"), "/rules").into(),
            time::UtcOffset::UTC,
            (&settings.reglas).into(),
        )
        .await
        .unwrap();
        let nodo = Nodo::new(&settings.nodo, "127.0.0.1:0".into());
        let realtime = Realtime::iniciar(store.clone(), settings.realtime, &reglas, nodo)
            .await
            .unwrap();
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(store))
                .app_data(web::Data::new(realtime))
                .service(
                    web::scope("/api")
                        .wrap(from_fn(limitar_servicio))
                        .route("/quien", web::post().to(quien)),
                ),
        )
        .await;

        let escribir = || {
            test::TestRequest::post()
                .uri("/api/quien")
                .insert_header(bearer(&token))
                .to_request()
        };
        // The middleware and both extractors ask; the burst of 3 is 3 writes.
        for _ in 0..3 {
            assert_eq!(
                test::call_service(&app, escribir()).await.status(),
                StatusCode::OK
            );
        }
        assert_eq!(
            test::call_service(&app, escribir()).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
