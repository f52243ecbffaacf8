//! `Session`: one actor per WebSocket. It registers with the Dispatcher,
//! greets with `hola`, replays on `reanudar`, then forwards live events —
//! each id once, in increasing order. It owns the socket's writer through a
//! bounded queue: a client that can't keep up is closed with 4008 instead of
//! slowing anyone else. It pings, drops a silent peer, and deregisters on
//! every way out (`stopped`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use bytestring::ByteString;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, oneshot};

use super::SesionId;
use super::dispatcher::{Baja, Dispatcher, Registrar};
use super::limite::{LimiteDeMensajes, Veredicto};
use super::protocolo::{
    Aviso, Entrante, EventoPublicado, MensajeCliente, cierre, envelope, parse_entrante,
};
use crate::auth::{Perfil, TokenHash};
use crate::config::RealtimeSettings;
use crate::eventos;
use crate::modelo::{Evento, EventoId, Usuario, UsuarioPublico};
use crate::reglas::RuleEngine;
use crate::store::Store;

/// What the writer task sends on the socket.
pub enum Saliente {
    Texto(ByteString),
    /// A replay: one place in the queue, however long, since it was asked
    /// for (and is bounded by `ws_ventana`); the writer sends it frame by
    /// frame as the client takes them.
    Lote(Vec<ByteString>),
    Ping,
    Pong(actix_web::web::Bytes),
}

/// Where a session is in its life: before going live, events are held (and
/// deduplicated afterwards) so that the client sees ids in increasing order.
enum Estado {
    /// `hola` sent; waiting briefly for the client's `reanudar`.
    Esperando(Vec<Arc<EventoPublicado>>),
    /// Replaying from the store; live events wait behind the replay.
    Reanudando(Vec<Arc<EventoPublicado>>),
    Vivo,
}

pub struct Session {
    id: SesionId,
    usuario: Arc<Usuario>,
    perfil: Perfil,
    token: TokenHash,
    dispatcher: Addr<Dispatcher>,
    store: Store,
    reglas: Arc<RuleEngine>,
    config: Arc<RealtimeSettings>,
    salida: mpsc::Sender<Saliente>,
    cierre: Option<oneshot::Sender<Option<CloseReason>>>,
    estado: Estado,
    /// The highest event id sent; live events at or below it are duplicates.
    ultimo_enviado: EventoId,
    /// Last frame from the client, for the heartbeat.
    visto: Instant,
    /// The client's frame rate.
    limite: LimiteDeMensajes,
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
}

impl Session {
    /// Starts the actor over an upgraded socket, with its writer task.
    pub fn start(
        nueva: NuevaSession,
        ws: actix_ws::Session,
        mensajes: actix_ws::MessageStream,
    ) -> Addr<Session> {
        let (salida, cola) = mpsc::channel(nueva.config.ws_cola);
        let (cierre, al_cerrar) = oneshot::channel();
        actix_web::rt::spawn(escribir(ws, cola, al_cerrar, nueva.config.ws_timeout));
        let entrada = mensajes
            .max_frame_size(super::LIMITE_FRAME)
            .aggregate_continuations()
            .max_continuation_size(super::LIMITE_FRAME);
        Session::create(move |ctx| {
            ctx.add_stream(entrada);
            Session::new(nueva, salida, Some(cierre))
        })
    }

    /// A session whose frames go to `salida` instead of a socket, and that
    /// hears nothing from a client: the in-process fan-out benchmark
    /// (`benches/difusion.rs`) measures Dispatcher → Sucursal → Session with it.
    #[doc(hidden)]
    pub fn start_sin_socket(nueva: NuevaSession, salida: mpsc::Sender<Saliente>) -> Addr<Session> {
        Session::new(nueva, salida, None).start()
    }

    fn new(
        nueva: NuevaSession,
        salida: mpsc::Sender<Saliente>,
        cierre: Option<oneshot::Sender<Option<CloseReason>>>,
    ) -> Self {
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
            salida,
            cierre,
            estado: Estado::Esperando(Vec::new()),
            ultimo_enviado: EventoId(0),
            visto: Instant::now(),
        }
    }

    /// Queues a frame for the writer; a full queue means the client is too slow.
    fn enviar(&mut self, frame: Saliente, ctx: &mut Context<Self>) {
        match self.salida.try_send(frame) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::info!(sesion = %self.id, "cliente demasiado lento: se cierra con 4008");
                self.cerrar(cierre::DEMASIADO_LENTO, "demasiado lento", ctx);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => ctx.stop(),
        }
    }

    fn enviar_evento(&mut self, evento: &EventoPublicado, ctx: &mut Context<Self>) {
        if evento.id() > self.ultimo_enviado {
            self.ultimo_enviado = evento.id();
            self.enviar(Saliente::Texto(evento.json.clone()), ctx);
        }
    }

    fn enviar_aviso(&mut self, aviso: Aviso<'_>, ctx: &mut Context<Self>) {
        self.enviar(Saliente::Texto(aviso.a_texto()), ctx);
    }

    fn error(&mut self, codigo: &str, mensaje: &str, ctx: &mut Context<Self>) {
        self.enviar_aviso(Aviso::Error { codigo, mensaje }, ctx);
    }

    /// Sends a close frame with `codigo` (after what is already queued) and stops.
    fn cerrar(&mut self, codigo: u16, motivo: &str, ctx: &mut Context<Self>) {
        if let Some(cierre) = self.cierre.take() {
            let _ = cierre.send(Some(CloseReason {
                code: CloseCode::Other(codigo),
                description: Some(motivo.to_owned()),
            }));
        }
        ctx.stop();
    }

    fn saludar(&mut self, ultimo_id: EventoId, ctx: &mut Context<Self>) {
        self.ultimo_enviado = ultimo_id;
        let usuario = UsuarioPublico::from(self.usuario.as_ref());
        self.enviar_aviso(
            Aviso::Hola {
                usuario: &usuario,
                sucursal_id: self.usuario.sucursal_id,
                ultimo_id,
            },
            ctx,
        );
        ctx.run_later(self.config.ws_espera_reanudar, |session, ctx| {
            if matches!(session.estado, Estado::Esperando(_)) {
                session.ir_en_vivo(ctx);
            }
        });
    }

    /// Sends what was held, skipping what was already sent, and goes live.
    fn ir_en_vivo(&mut self, ctx: &mut Context<Self>) {
        let retenidos = match std::mem::replace(&mut self.estado, Estado::Vivo) {
            Estado::Esperando(r) | Estado::Reanudando(r) => r,
            Estado::Vivo => Vec::new(),
        };
        for evento in retenidos {
            self.enviar_evento(&evento, ctx);
        }
    }

    fn retener(&mut self, evento: Arc<EventoPublicado>, ctx: &mut Context<Self>) {
        let limite = self.config.ws_cola;
        match &mut self.estado {
            Estado::Esperando(r) | Estado::Reanudando(r) => {
                r.push(evento);
                if r.len() > limite {
                    self.cerrar(cierre::DEMASIADO_LENTO, "demasiado lento", ctx);
                }
            }
            Estado::Vivo => self.enviar_evento(&evento, ctx),
        }
    }

    /// `reanudar`: replay every event after `desde` this session may see, then live.
    fn reanudar(&mut self, desde: EventoId, ctx: &mut Context<Self>) {
        let retenidos = match std::mem::replace(&mut self.estado, Estado::Vivo) {
            Estado::Esperando(r) | Estado::Reanudando(r) => r,
            Estado::Vivo => Vec::new(),
        };
        self.estado = Estado::Reanudando(retenidos);
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
            let ultimo_id = self.ultimo_enviado;
            self.enviar_aviso(Aviso::Reinicio { ultimo_id }, ctx);
            return self.ir_en_vivo(ctx);
        }
        tracing::debug!(sesion = %self.id, %desde, eventos = eventos.len(), "reanudando");
        // The replay restarts the stream at `desde`: everything after it, once.
        self.ultimo_enviado = desde;
        let mut lote = Vec::with_capacity(eventos.len());
        for evento in &eventos {
            if self
                .perfil
                .puede_recibir(evento.sucursal_id, evento.destinos.0)
            {
                lote.push(envelope(evento));
            }
            self.ultimo_enviado = evento.id;
        }
        if !lote.is_empty() {
            self.enviar(Saliente::Lote(lote), ctx);
        }
        self.ir_en_vivo(ctx);
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

    /// A client that speaks without resuming wants live events now.
    fn primer_mensaje(&mut self, ctx: &mut Context<Self>) {
        if matches!(self.estado, Estado::Esperando(_)) {
            self.ir_en_vivo(ctx);
        }
    }
}

impl Actor for Session {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // `wait`: nothing — no event, no client frame — is handled before `hola`.
        self.dispatcher
            .send(Registrar {
                sesion: self.id,
                addr: ctx.address(),
                perfil: self.perfil,
                usuario_id: self.usuario.id,
                token: self.token.clone(),
            })
            .into_actor(self)
            .map(|resultado, session, ctx| match resultado {
                Ok(ultimo_id) => session.saludar(ultimo_id, ctx),
                Err(_) => session.cerrar(cierre::APAGANDO, "apagando", ctx),
            })
            .wait(ctx);

        ctx.run_interval(self.config.ws_heartbeat, |session, ctx| {
            if session.visto.elapsed() > session.config.ws_timeout {
                tracing::info!(sesion = %session.id, "sin respuesta del cliente: se desconecta");
                session.cerrar(cierre::APAGANDO, "sin respuesta", ctx);
            } else {
                session.enviar(Saliente::Ping, ctx);
            }
        });
    }

    fn stopped(&mut self, _: &mut Self::Context) {
        self.dispatcher.do_send(Baja { sesion: self.id });
        if let Some(cierre) = self.cierre.take() {
            let _ = cierre.send(None);
        }
        tracing::debug!(sesion = %self.id, "sesión cerrada");
    }
}

impl StreamHandler<Result<AggregatedMessage, ProtocolError>> for Session {
    fn handle(&mut self, msg: Result<AggregatedMessage, ProtocolError>, ctx: &mut Self::Context) {
        self.visto = Instant::now();
        if let Ok(
            AggregatedMessage::Text(_) | AggregatedMessage::Binary(_) | AggregatedMessage::Ping(_),
        ) = &msg
            && !self.frame_permitido(ctx)
        {
            return;
        }
        match msg {
            Ok(AggregatedMessage::Text(texto)) => self.recibir_texto(&texto, ctx),
            Ok(AggregatedMessage::Binary(_)) => self.error(
                "binario_no_soportado",
                "comanda solo habla JSON en frames de texto",
                ctx,
            ),
            Ok(AggregatedMessage::Ping(datos)) => self.enviar(Saliente::Pong(datos), ctx),
            Ok(AggregatedMessage::Pong(_)) => {}
            Ok(AggregatedMessage::Close(_)) => ctx.stop(),
            Err(ProtocolError::Overflow) => {
                self.cerrar(cierre::DEMASIADO_GRANDE, "frame de más de 64 KiB", ctx)
            }
            Err(e) => {
                tracing::debug!(sesion = %self.id, error = %e, "error de protocolo");
                self.cerrar(cierre::ERROR_DE_PROTOCOLO, "error de protocolo", ctx)
            }
        }
    }

    fn finished(&mut self, ctx: &mut Self::Context) {
        ctx.stop();
    }
}

/// A live event for this session.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Entregar(pub Arc<EventoPublicado>);

impl Handler<Entregar> for Session {
    type Result = ();

    fn handle(&mut self, Entregar(evento): Entregar, ctx: &mut Self::Context) {
        self.retener(evento, ctx);
    }
}

/// A frame that is not an event (presence).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Frame(pub ByteString);

impl Handler<Frame> for Session {
    type Result = ();

    fn handle(&mut self, Frame(frame): Frame, ctx: &mut Self::Context) {
        self.enviar(Saliente::Texto(frame), ctx);
    }
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

/// The writer task: drains the session's queue onto the socket, then closes
/// it — after what is queued, except for a too-slow client, whose backlog is
/// dropped. A write that takes longer than `espera` means the peer stopped
/// reading; the socket is then dropped rather than held open.
async fn escribir(
    mut ws: actix_ws::Session,
    mut cola: mpsc::Receiver<Saliente>,
    mut al_cerrar: oneshot::Receiver<Option<CloseReason>>,
    espera: Duration,
) {
    let motivo = loop {
        let frame = tokio::select! {
            biased;
            motivo = &mut al_cerrar => break motivo.ok().flatten(),
            frame = cola.recv() => match frame {
                Some(frame) => frame,
                None => break None,
            },
        };
        match escribir_saliente(&mut ws, frame, espera).await {
            Ok(()) => {}
            Err(Fallo::Cerrado) => return,
            Err(Fallo::Lento) => break None,
        }
    };
    let lento = matches!(&motivo, Some(m) if m.code == CloseCode::Other(cierre::DEMASIADO_LENTO));
    if !lento {
        while let Ok(frame) = cola.try_recv() {
            if escribir_saliente(&mut ws, frame, espera).await.is_err() {
                return;
            }
        }
    }
    let _ = tokio::time::timeout(espera, ws.close(motivo)).await;
}

/// Why the writer stopped writing.
enum Fallo {
    /// The socket is gone.
    Cerrado,
    /// A frame took longer than `espera`: the peer stopped reading.
    Lento,
}

/// Writes one queued item, each of its frames within `espera`.
async fn escribir_saliente(
    ws: &mut actix_ws::Session,
    frame: Saliente,
    espera: Duration,
) -> Result<(), Fallo> {
    match frame {
        Saliente::Texto(texto) => con_plazo(espera, ws.text(texto)).await,
        Saliente::Lote(textos) => {
            for texto in textos {
                con_plazo(espera, ws.text(texto)).await?;
            }
            Ok(())
        }
        Saliente::Ping => con_plazo(espera, ws.ping(b"")).await,
        Saliente::Pong(datos) => con_plazo(espera, ws.pong(&datos)).await,
    }
}

async fn con_plazo(
    espera: Duration,
    escrito: impl Future<Output = Result<(), actix_ws::Closed>>,
) -> Result<(), Fallo> {
    match tokio::time::timeout(espera, escrito).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(actix_ws::Closed)) => Err(Fallo::Cerrado),
        Err(_) => Err(Fallo::Lento),
    }
}
