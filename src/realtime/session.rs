//! `Session`: one actor per WebSocket. It registers with the Dispatcher,
//! greets with `hola`, replays on the client's one `reanudar` (one more
//! after each `reinicio`), and hears the client's frames.
//! Its frames go out through its [`Buzon`], where its `Sucursal` (or the
//! Monitor, for an admin or superadmin) also puts live events directly — each id once,
//! in increasing order; a client that can't keep up is closed with 4008
//! instead of slowing anyone else. It pings, drops a silent peer, closes
//! with 4001 when its login expires, and deregisters on every way out
//! (`stopped`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_http::ws::{CloseCode, CloseReason};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::SesionId;
use super::conexion::Lector;
use super::dispatcher::{Baja, Dispatcher, Registrar};
use super::frame::{FrameCliente, FrameError, close_code_allowed};
use super::limite::{LimiteDeMensajes, Veredicto};
use super::protocolo::{Aviso, Entrante, MensajeCliente, cierre, envelope, parse_entrante};
use super::salida::{Buzon, Hilo, Hueco, Puesto, Salida};
use crate::auth::{Perfil, TokenHash};
use crate::config::RealtimeSettings;
use crate::eventos;
use crate::modelo::{Evento, EventoId, Usuario, UsuarioPublico};
use crate::reglas::RuleEngine;
use crate::store::Store;

pub struct Session {
    id: SesionId,
    usuario: Arc<Usuario>,
    perfil: Perfil,
    token: TokenHash,
    dispatcher: Addr<Dispatcher>,
    store: Store,
    reglas: Arc<RuleEngine>,
    config: Arc<RealtimeSettings>,
    buzon: Arc<Buzon>,
    /// The socket thread its writer runs on (`None`: no socket).
    hilo: Option<Hilo>,
    /// Last frame from the client, for the heartbeat.
    visto: Instant,
    /// The client's frame rate.
    limite: LimiteDeMensajes,
    /// When its login ends.
    expira: OffsetDateTime,
    /// See [`Registrar::comprobado_hasta`].
    comprobado_hasta: EventoId,
    reanudacion: Reanudacion,
}

/// Where the client is with its `reanudar`: one per greeting, so that a
/// client can't make the server replay its history over and over (40
/// `reanudar` were 40 replays), and no event goes out twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reanudacion {
    /// After `hola`: it may come. Meanwhile the session goes live on its
    /// own after `ws_espera_reanudar`, or at the client's first other
    /// message.
    Pendiente,
    /// After `reinicio`: the client reloads its lists and resumes from
    /// them; events wait for it.
    TrasReinicio,
    /// Taken: another one is answered `reanudar_repetido`.
    Hecha,
}

/// What a new session needs besides its socket.
pub struct NuevaSession {
    pub id: SesionId,
    pub usuario: Usuario,
    pub token: TokenHash,
    pub dispatcher: Addr<Dispatcher>,
    pub store: Store,
    pub reglas: Arc<RuleEngine>,
    pub config: Arc<RealtimeSettings>,
    /// When the login ends: the socket closes then, with 4001.
    pub expira: OffsetDateTime,
    /// The newest event dispatched when the login was found valid.
    pub comprobado_hasta: EventoId,
}

impl Session {
    /// Starts the actor on the current arbiter — the socket thread `hilo` —
    /// hearing the client's frames from `lector`; the socket's writer drains
    /// `buzon`.
    pub(super) fn start(
        nueva: NuevaSession,
        buzon: Arc<Buzon>,
        hilo: Hilo,
        lector: Lector,
    ) -> Addr<Session> {
        Session::create(move |ctx| {
            ctx.add_stream(lector);
            Session::new(nueva, buzon, Some(hilo))
        })
    }

    /// A session without a socket, that hears nothing from a client: the
    /// in-process fan-out benchmark (`benches/difusion.rs`) measures
    /// Dispatcher → Sucursal → buzon with it, draining `buzon` itself.
    #[doc(hidden)]
    pub fn start_sin_socket(nueva: NuevaSession, buzon: Arc<Buzon>) -> Addr<Session> {
        Session::new(nueva, buzon, None).start()
    }

    fn new(nueva: NuevaSession, buzon: Arc<Buzon>, hilo: Option<Hilo>) -> Self {
        Session {
            limite: LimiteDeMensajes::new(
                nueva.config.ws_mensajes_por_segundo,
                nueva.config.ws_rafaga,
            ),
            id: nueva.id,
            perfil: Perfil::de(&nueva.usuario),
            usuario: Arc::new(nueva.usuario),
            token: nueva.token,
            dispatcher: nueva.dispatcher,
            store: nueva.store,
            reglas: nueva.reglas,
            config: nueva.config,
            buzon,
            hilo,
            visto: Instant::now(),
            expira: nueva.expira,
            comprobado_hasta: nueva.comprobado_hasta,
            reanudacion: Reanudacion::Pendiente,
        }
    }

    /// A full buzon means the client is too slow.
    fn atender(&mut self, puesto: Puesto, ctx: &mut Context<Self>) {
        if puesto == Puesto::Desbordado {
            tracing::info!(sesion = %self.id, "cliente demasiado lento: se cierra con 4008");
            ctx.stop();
        }
    }

    fn enviar_aviso(&mut self, aviso: Aviso<'_>, ctx: &mut Context<Self>) {
        let puesto = self.buzon.frame(aviso.a_texto());
        self.atender(puesto, ctx);
    }

    fn error(&mut self, codigo: &str, mensaje: &str, ctx: &mut Context<Self>) {
        self.enviar_aviso(Aviso::Error { codigo, mensaje }, ctx);
    }

    /// Sends a close frame with `codigo` (after what is already queued) and stops.
    fn cerrar(&mut self, codigo: u16, motivo: &str, ctx: &mut Context<Self>) {
        self.buzon.cerrar(Some(CloseReason {
            code: CloseCode::Other(codigo),
            description: Some(motivo.to_owned()),
        }));
        ctx.stop();
    }

    fn saludar(&mut self, ultimo_id: EventoId, ctx: &mut Context<Self>) {
        let usuario = UsuarioPublico::from(self.usuario.as_ref());
        let hola = Aviso::Hola {
            usuario: &usuario,
            sucursal_id: self.usuario.sucursal_id,
            ultimo_id,
        };
        self.buzon.saludar(hola.a_texto(), ultimo_id);
        ctx.run_later(self.config.ws_espera_reanudar, |session, ctx| {
            session.primer_mensaje(ctx);
        });
    }

    /// `reanudar`: replay every event after `desde` this session may see,
    /// then live — once per greeting.
    fn reanudar(&mut self, desde: EventoId, ctx: &mut Context<Self>) {
        if self.reanudacion == Reanudacion::Hecha {
            tracing::debug!(sesion = %self.id, %desde, "reanudar repetido: se ignora");
            return self.error(
                "reanudar_repetido",
                "este socket ya se reanudó: se reanuda una vez por conexión (y otra tras un reinicio)",
                ctx,
            );
        }
        self.reanudacion = Reanudacion::Hecha;
        self.buzon.empezar_reanudacion();
        let store = self.store.clone();
        let sucursal = self.perfil.alcance.sucursal();
        let ventana = self.config.ws_ventana;
        async move {
            let eventos = store.eventos_desde(desde, sucursal, ventana + 1).await?;
            // Nothing after `desde`: is the client just current, or ahead of
            // this database (a reset)? Another node may have delivered ids this
            // node's Dispatcher has not reached yet, so ask the store.
            let en_la_base = match eventos.is_empty() {
                true => Some(store.ultimo_evento_id().await?),
                false => None,
            };
            Ok((eventos, en_la_base))
        }
        .into_actor(self)
        .map(move |resultado, session, ctx| session.repetir(desde, resultado, ctx))
        .spawn(ctx);
    }

    fn repetir(
        &mut self,
        desde: EventoId,
        resultado: Result<(Vec<Evento>, Option<EventoId>), crate::store::StoreError>,
        ctx: &mut Context<Self>,
    ) {
        let (eventos, en_la_base) = match resultado {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(sesion = %self.id, error = %e, "no se pudo reanudar");
                return self.cerrar(cierre::REINTENTA_LUEGO, "base de datos no disponible", ctx);
            }
        };
        let futuro = en_la_base.is_some_and(|ultimo| desde > ultimo);
        if futuro || eventos.len() as i64 > self.config.ws_ventana {
            return self.reiniciar(ctx);
        }
        tracing::debug!(sesion = %self.id, %desde, eventos = eventos.len(), "reanudando");
        let hasta = eventos.last().map_or(desde, |e| e.id);
        let lote: Vec<_> = eventos
            .iter()
            .filter(|e| self.perfil.puede_recibir(e.sucursal_id, e.destinos.0))
            .map(|e| (e.id, envelope(e)))
            .collect();
        let repetidos = lote.len();
        match self.buzon.reanudar(desde, lote, hasta) {
            Ok(puesto) => {
                crate::metricas::repeticion(repetidos);
                self.atender(puesto, ctx)
            }
            // A `reanudar` that came after the session went live on its
            // own, from before `hola`: what it lacks can't go out in order.
            Err(Hueco) => self.reiniciar(ctx),
        }
    }

    /// `reinicio`: the client reloads its lists by REST and resumes from
    /// them with one more `reanudar`; events wait for it.
    fn reiniciar(&mut self, ctx: &mut Context<Self>) {
        crate::metricas::reinicio();
        let ultimo_id = self.buzon.ultimo_enviado();
        self.enviar_aviso(Aviso::Reinicio { ultimo_id }, ctx);
        self.buzon.reiniciar();
        self.reanudacion = Reanudacion::TrasReinicio;
    }

    fn publicar(&mut self, plano: Map<String, Value>, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let reglas = self.reglas.clone();
        let usuario = self.usuario.clone();
        async move { eventos::publicar_plano(&store, &reglas, &usuario, plano).await }
            .into_actor(self)
            .map(|resultado, session, ctx| match resultado {
                Ok(evento) => session.enviar_aviso(Aviso::Publicado { id: evento.id }, ctx),
                Err(e) => {
                    let e = crate::error::ApiError::from(e);
                    session.error(e.codigo(), &e.to_string(), ctx)
                }
            })
            .spawn(ctx);
    }

    fn recibir_texto(&mut self, texto: &str, ctx: &mut Context<Self>) {
        match parse_entrante(texto) {
            Ok(Entrante::Mensaje(MensajeCliente::Reanudar { ultimo_id })) => {
                self.reanudar(ultimo_id, ctx)
            }
            Ok(Entrante::Mensaje(MensajeCliente::Ping)) => {
                self.primer_mensaje(ctx);
                self.enviar_aviso(Aviso::Pong, ctx);
            }
            Ok(Entrante::Publicacion(plano)) => {
                self.primer_mensaje(ctx);
                self.publicar(plano, ctx);
            }
            Err(mensaje) => self.error("mensaje_invalido", &mensaje, ctx),
        }
    }

    /// Counts a client frame against its rate (see [`LimiteDeMensajes`]):
    /// false when it must be dropped.
    fn frame_permitido(&mut self, ctx: &mut Context<Self>) -> bool {
        match self.limite.contar() {
            Veredicto::Pasa => true,
            Veredicto::Avisar => {
                tracing::info!(sesion = %self.id, "demasiados mensajes: se avisa");
                self.error(
                    "demasiados_mensajes",
                    "demasiados mensajes por segundo: este se descartó; si sigues, se cierra el socket",
                    ctx,
                );
                false
            }
            Veredicto::Descartar => false,
            Veredicto::Cerrar => {
                tracing::info!(sesion = %self.id, "demasiados mensajes tras el aviso: se cierra con 1008");
                self.cerrar(cierre::DEMASIADOS_MENSAJES, "demasiados mensajes", ctx);
                false
            }
        }
    }

    /// A client that speaks without resuming (or is silent for
    /// `ws_espera_reanudar`) wants live events now. Not after a `reinicio`:
    /// a page pings while it reloads its lists, and resumes from them.
    fn primer_mensaje(&mut self, ctx: &mut Context<Self>) {
        if self.reanudacion == Reanudacion::Pendiente && self.buzon.esperando() {
            let puesto = self.buzon.ir_en_vivo();
            self.atender(puesto, ctx);
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        tracing::debug!(sesion = %self.id, usuario = %self.usuario.usuario, "sesión abierta");
        // `wait`: nothing — no event, no client frame — is handled before `hola`.
        self.dispatcher
            .send(Registrar {
                sesion: self.id,
                salida: Salida {
                    buzon: self.buzon.clone(),
                    sesion: ctx.address(),
                    hilo: self.hilo.clone(),
                },
                perfil: self.perfil,
                usuario_id: self.usuario.id,
                token: self.token.clone(),
                comprobado_hasta: self.comprobado_hasta,
            })
            .into_actor(self)
            .map(|resultado, session, ctx| match resultado {
                Ok(ultimo_id) => session.saludar(ultimo_id, ctx),
                Err(_) => session.cerrar(cierre::APAGANDO, "apagando", ctx),
            })
            .wait(ctx);

        // A login lasts until `expira`, and so does its socket: on every
        // node alike, each on its own timer.
        let vida = Duration::try_from(self.expira - OffsetDateTime::now_utc()).unwrap_or_default();
        ctx.run_later(vida, |session, ctx| {
            tracing::info!(sesion = %session.id, "la sesión expiró: se cierra con 4001");
            session.cerrar(
                cierre::NO_AUTENTICADO,
                "la sesión expiró: vuelve a entrar",
                ctx,
            );
        });

        ctx.run_interval(self.config.ws_heartbeat, |session, ctx| {
            if session.visto.elapsed() > session.config.ws_timeout {
                tracing::info!(sesion = %session.id, "sin respuesta del cliente: se desconecta");
                session.cerrar(cierre::APAGANDO, "sin respuesta", ctx);
            } else {
                let puesto = session.buzon.ping();
                session.atender(puesto, ctx);
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.dispatcher.do_send(Baja { sesion: self.id });
        self.buzon.cerrar(None);
        tracing::debug!(sesion = %self.id, "sesión cerrada");
    }
}

impl StreamHandler<Result<FrameCliente, FrameError>> for Session {
    fn handle(&mut self, msg: Result<FrameCliente, FrameError>, ctx: &mut Self::Context) {
        self.visto = Instant::now();
        if let Ok(FrameCliente::Texto(_) | FrameCliente::Binario(_) | FrameCliente::Ping(_)) = &msg
            && !self.frame_permitido(ctx)
        {
            return;
        }
        match msg {
            Ok(FrameCliente::Texto(texto)) => self.recibir_texto(&texto, ctx),
            Ok(FrameCliente::Binario(_)) => self.error(
                "binario_no_soportado",
                "comanda solo habla JSON en frames de texto",
                ctx,
            ),
            Ok(FrameCliente::Ping(datos)) => {
                let puesto = self.buzon.pong(datos);
                self.atender(puesto, ctx);
            }
            Ok(FrameCliente::Pong(_)) => {}
            Ok(FrameCliente::Cierre(motivo)) => {
                self.buzon
                    .cerrar(motivo.and_then(|m| eco_de_cierre(m.code)));
                ctx.stop()
            }
            // The reader stopped at this frame: the close goes out and the
            // rest of what the client sends is dropped unread.
            Err(e) => {
                let codigo = e.close_code();
                match codigo {
                    cierre::DEMASIADO_GRANDE => {
                        tracing::info!(sesion = %self.id, error = %e, "frame demasiado grande: se cierra con 1009")
                    }
                    _ => {
                        tracing::debug!(sesion = %self.id, error = %e, codigo, "frame no válido: se cierra")
                    }
                }
                self.cerrar(codigo, &e.to_string(), ctx)
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

/// The answer to a client's close: its own code back (RFC 6455 §5.5.1)
/// when that code may be sent on the wire (§7.4 and IANA's registry: not
/// 1004–1006 or 1015, nor outside 1000–4999), else a close without one.
/// (The reader fails a close with any other code, with 1002.)
fn eco_de_cierre(code: CloseCode) -> Option<CloseReason> {
    close_code_allowed(u16::from(code)).then_some(CloseReason {
        code,
        description: None,
    })
}

/// Close this session with a code (shutdown, logout, account changed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Cerrar {
    pub codigo: u16,
    pub motivo: &'static str,
}

impl Handler<Cerrar> for Session {
    type Result = ();

    fn handle(&mut self, msg: Cerrar, ctx: &mut Self::Context) {
        self.cerrar(msg.codigo, msg.motivo, ctx);
    }
}

/// The socket's writer could not write: the connection is gone.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConexionPerdida;

impl Handler<ConexionPerdida> for Session {
    type Result = ();

    fn handle(&mut self, _: ConexionPerdida, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn el_cierre_devuelve_el_codigo_del_cliente_si_se_puede_enviar() {
        let eco = |n: u16| eco_de_cierre(CloseCode::from(n)).map(|r| u16::from(r.code));
        for n in [1000, 1001, 1003, 1007, 1011, 1014, 3000, 4008, 4999] {
            assert_eq!(eco(n), Some(n), "{n}");
        }
        // Reserved, never on the wire: the answer carries no code.
        for n in [999, 1004, 1005, 1006, 1015, 2000, 5000] {
            assert_eq!(eco(n), None, "{n}");
        }
    }
}
