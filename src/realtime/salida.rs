//! A session's way out: its [`Buzon`], the frames waiting for the socket
//! and the events held back until the session goes live. The socket's
//! writer (`conexion.rs`) empties it.
//!
//! The hot path: the `Sucursal` hands an event once to each socket thread
//! ([`Hilo`]) with that thread's members, and the thread puts the event's
//! shared bytes straight into each member's buzon and wakes its writer,
//! which encodes every queued frame into one chunk for one write (the
//! `Monitor` puts events for monitors, which are few, in their buzones
//! itself). The `Session` actor owns everything else — the greeting, the
//! replay, the heartbeat, the client's frames — and decides when the
//! session goes live; the buzon keeps the order and the "each id once"
//! promise across that switch, under one lock.

use std::collections::VecDeque;
use std::mem;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use actix::{Addr, ArbiterHandle};
use actix_http::ws::{CloseCode, CloseReason, OpCode, Parser};
use actix_web::web::{Bytes, BytesMut};
use bytestring::ByteString;
use tokio::sync::mpsc;

use super::protocolo::{EventoPublicado, cierre};
use super::session::{Cerrar, Session};
use crate::auth::Perfil;
use crate::modelo::EventoId;

/// Control frames carry at most 125 bytes (RFC 6455 §5.5).
const MAX_CONTROL: usize = 125;
/// One chunk handed to the connection holds about this much; the rest waits
/// for the next poll, so a long replay never sits in memory twice.
const CHUNK: usize = 64 * 1024;

/// What waits for the socket.
enum Saliente {
    Texto(ByteString),
    /// A live event, already framed (`EventoPublicado::frame`).
    Evento(Bytes),
    /// A replay: one place in the queue however long, since the client asked
    /// for it (it is bounded by `ws_ventana`).
    Lote(VecDeque<ByteString>),
    Ping,
    Pong(Bytes),
}

/// Where the session is in its life: before going live, events are held
/// (and deduplicated afterwards) so that the client sees ids in order.
enum Estado {
    /// `hola` (or `reinicio`) sent; waiting for the client's `reanudar`.
    Esperando(Vec<Arc<EventoPublicado>>),
    /// Replaying from the store; live events wait behind the replay.
    Reanudando(Vec<Arc<EventoPublicado>>),
    Vivo,
}

/// How the socket ends.
enum Fin {
    Abierto,
    /// Send what is queued, then a close frame with this reason, then end.
    Cerrando(Option<CloseReason>),
    /// The close frame is written (or the connection is gone): nothing more.
    Terminado,
}

struct Interior {
    cola: VecDeque<Saliente>,
    estado: Estado,
    /// The stream so far: every event this session may see with an id in
    /// `(inicio, ultimo_enviado]` is queued (or written), none at or below
    /// `inicio`, and ids go out increasing. Live events at or below
    /// `ultimo_enviado` are duplicates.
    inicio: EventoId,
    ultimo_enviado: EventoId,
    /// An event went out: the stream can no longer start again lower.
    algo_enviado: bool,
    fin: Fin,
    /// The connection's task, parked until there is something to write.
    lector: Option<Waker>,
    /// `hola` is queued: the socket may start.
    saludado: bool,
}

/// A session's outgoing frames: filled by the session's actor, its
/// `Sucursal` and the `Monitor`; emptied by the socket's writer.
pub struct Buzon {
    interior: Mutex<Interior>,
    /// Queued items (frames, replays) or held events past which the client
    /// is too slow: it is closed with 4008 and resumes when it reconnects.
    limite: usize,
}

/// A replay that can't go out: the client lacks events from before the
/// stream's start, and later ones went out already, so they could only go
/// out of order. The client must reload its lists (`reinicio`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hueco;

/// What happened to something put in the buzon.
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Puesto {
    Si,
    /// The session is closing or gone: dropped.
    Descartado,
    /// The queue was past its bound: the backlog is dropped and a 4008 close
    /// is on its way; the session's actor must be told to stop.
    Desbordado,
}

impl Buzon {
    pub fn new(limite: usize) -> Arc<Self> {
        Arc::new(Self {
            interior: Mutex::new(Interior {
                cola: VecDeque::new(),
                estado: Estado::Esperando(Vec::new()),
                inicio: EventoId(0),
                ultimo_enviado: EventoId(0),
                algo_enviado: false,
                fin: Fin::Abierto,
                lector: None,
                saludado: false,
            }),
            limite,
        })
    }

    fn interior(&self) -> MutexGuard<'_, Interior> {
        // A panic while holding the lock leaves plain data behind: go on.
        self.interior.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` on the interior, then wakes the connection if `f` queued
    /// something (after the lock is released).
    fn con<R>(&self, f: impl FnOnce(&mut Interior, usize) -> R) -> R {
        let (r, despertar) = {
            let mut i = self.interior();
            let antes = i.cola.len();
            let r = f(&mut i, self.limite);
            let despertar = match (i.cola.len() != antes, &i.fin) {
                (_, Fin::Cerrando(_)) | (true, _) => i.lector.take(),
                _ => None,
            };
            (r, despertar)
        };
        if let Some(w) = despertar {
            w.wake();
        }
        r
    }

    /// A live event for this session (from its `Sucursal` or the
    /// `Monitor`): queued if live and new, held if not live yet.
    pub fn entregar(&self, evento: &Arc<EventoPublicado>) -> Puesto {
        self.con(|i, limite| {
            if !matches!(i.fin, Fin::Abierto) {
                return Puesto::Descartado;
            }
            match &mut i.estado {
                Estado::Vivo => i.encolar_evento(evento, limite),
                Estado::Esperando(r) | Estado::Reanudando(r) => {
                    r.push(evento.clone());
                    match r.len() > limite {
                        true => i.desbordar(),
                        false => Puesto::Si,
                    }
                }
            }
        })
    }

    /// A frame that is not an event (a notice, presence).
    pub fn frame(&self, texto: ByteString) -> Puesto {
        self.con(|i, limite| i.encolar(Saliente::Texto(texto), limite))
    }

    pub fn ping(&self) -> Puesto {
        self.con(|i, limite| i.encolar(Saliente::Ping, limite))
    }

    pub fn pong(&self, mut datos: Bytes) -> Puesto {
        datos.truncate(MAX_CONTROL);
        self.con(|i, limite| i.encolar(Saliente::Pong(datos), limite))
    }

    /// Queues `hola` ahead of anything already queued (presence may have
    /// arrived first); events after `ultimo_id` are held until live.
    pub fn saludar(&self, hola: ByteString, ultimo_id: EventoId) {
        self.con(|i, _| {
            if matches!(i.fin, Fin::Abierto) {
                i.inicio = ultimo_id;
                i.ultimo_enviado = ultimo_id;
                i.cola.push_front(Saliente::Texto(hola));
                i.saludado = true;
            }
        })
    }

    /// The highest event id queued so far.
    pub fn ultimo_enviado(&self) -> EventoId {
        self.interior().ultimo_enviado
    }

    /// Whether the session still waits for the client's first word.
    pub fn esperando(&self) -> bool {
        matches!(self.interior().estado, Estado::Esperando(_))
    }

    /// Live now: what was held goes out, skipping what was already sent.
    pub fn ir_en_vivo(&self) -> Puesto {
        self.con(|i, limite| i.ir_en_vivo(limite))
    }

    /// `reanudar`: from now on live events wait behind the replay.
    pub fn empezar_reanudacion(&self) {
        self.con(|i, _| {
            let retenidos = match mem::replace(&mut i.estado, Estado::Vivo) {
                Estado::Esperando(r) | Estado::Reanudando(r) => r,
                Estado::Vivo => Vec::new(),
            };
            i.estado = Estado::Reanudando(retenidos);
        })
    }

    /// The replay is read: `lote` (the events after `desde` this session
    /// may see, by id, read up to `hasta`) goes out, then what was held,
    /// then live — each id once, in increasing order. While nothing went
    /// out, the stream starts again at `desde`; after that, what already
    /// went out is skipped, and events from before the stream's start are
    /// a [`Hueco`]: nothing is queued and events stay held.
    pub fn reanudar(
        &self,
        desde: EventoId,
        lote: Vec<(EventoId, ByteString)>,
        hasta: EventoId,
    ) -> Result<Puesto, Hueco> {
        self.con(|i, limite| {
            if !matches!(i.fin, Fin::Abierto) {
                return Ok(Puesto::Descartado);
            }
            if !i.algo_enviado {
                i.inicio = desde;
                i.ultimo_enviado = desde;
            } else if lote.first().is_some_and(|(id, _)| *id <= i.inicio) {
                return Err(Hueco);
            }
            let ya = i.ultimo_enviado;
            let nuevos: VecDeque<ByteString> = lote
                .into_iter()
                .filter(|(id, _)| *id > ya)
                .map(|(_, envelope)| envelope)
                .collect();
            i.ultimo_enviado = ya.max(desde).max(hasta);
            if !nuevos.is_empty() {
                i.algo_enviado = true;
                i.cola.push_back(Saliente::Lote(nuevos));
            }
            Ok(i.ir_en_vivo(limite))
        })
    }

    /// `reinicio` is queued: events are held until the client's next
    /// `reanudar`, from the lists it reloads (sent now, it would drop them
    /// and ask for them again).
    pub fn reiniciar(&self) {
        self.con(|i, _| {
            let retenidos = match mem::replace(&mut i.estado, Estado::Vivo) {
                Estado::Esperando(r) | Estado::Reanudando(r) => r,
                Estado::Vivo => Vec::new(),
            };
            i.estado = Estado::Esperando(retenidos);
        })
    }

    /// Queues the close frame after what is queued (a client too slow to
    /// take it was already closed by the buzon itself: see `desbordar`).
    /// Later calls change nothing.
    pub fn cerrar(&self, motivo: Option<CloseReason>) {
        self.con(|i, _| {
            if matches!(i.fin, Fin::Abierto) {
                i.fin = Fin::Cerrando(motivo);
            }
        })
    }

    /// Takes what is queued as WebSocket frames, or `None` when there is
    /// nothing (then `waker` is woken when there is) or the socket is done.
    fn sacar(&self, waker: &Waker) -> Poll<Option<(Bytes, usize)>> {
        let mut i = self.interior();
        // The common case, one live event alone: its shared frame is the
        // chunk, written as it is.
        if i.saludado
            && i.cola.len() == 1
            && matches!(i.fin, Fin::Abierto)
            && let Some(Saliente::Evento(frame)) = i.cola.front()
        {
            let frame = frame.clone();
            i.cola.clear();
            return Poll::Ready(Some((frame, 1)));
        }
        let mut buf = BytesMut::new();
        let mut frames = 0;
        // Nothing goes before `hola`; a session closed before it gets just the close.
        while i.saludado && buf.len() < CHUNK {
            let Some(s) = i.cola.front_mut() else { break };
            let (texto, op) = match s {
                Saliente::Evento(frame) => {
                    buf.extend_from_slice(frame);
                    frames += 1;
                    i.cola.pop_front();
                    continue;
                }
                Saliente::Texto(t) => (&t.as_bytes()[..], OpCode::Text),
                Saliente::Ping => (&[][..], OpCode::Ping),
                Saliente::Pong(d) => (&d[..], OpCode::Pong),
                Saliente::Lote(lote) => {
                    while buf.len() < CHUNK
                        && let Some(t) = lote.pop_front()
                    {
                        Parser::write_message(&mut buf, t, OpCode::Text, true, false);
                        frames += 1;
                    }
                    if !lote.is_empty() {
                        break;
                    }
                    i.cola.pop_front();
                    continue;
                }
            };
            Parser::write_message(&mut buf, texto, op, true, false);
            frames += 1;
            i.cola.pop_front();
        }
        if (i.cola.is_empty() || !i.saludado)
            && matches!(i.fin, Fin::Cerrando(_))
            && let Fin::Cerrando(motivo) = mem::replace(&mut i.fin, Fin::Terminado)
        {
            Parser::write_close(&mut buf, motivo, false);
            frames += 1;
        }
        if !buf.is_empty() {
            return Poll::Ready(Some((buf.freeze(), frames)));
        }
        if matches!(i.fin, Fin::Terminado) {
            return Poll::Ready(None);
        }
        if !i.lector.as_ref().is_some_and(|w| w.will_wake(waker)) {
            i.lector = Some(waker.clone());
        }
        Poll::Pending
    }

    /// The connection is gone: drop what waits, accept nothing more.
    pub(super) fn terminar(&self) {
        let mut i = self.interior();
        i.fin = Fin::Terminado;
        i.cola = VecDeque::new();
        i.estado = Estado::Vivo;
        i.lector = None;
    }

    /// The next chunk of frames for the socket and how many frames it
    /// holds; `None` once the close frame is out or the socket is gone.
    /// (Public for the in-process fan-out benchmark, `benches/difusion.rs`,
    /// which drains its socket-less sessions with it.)
    pub async fn siguiente(&self) -> Option<(Bytes, usize)> {
        std::future::poll_fn(|cx| self.sacar(cx.waker())).await
    }
}

impl Interior {
    fn encolar(&mut self, s: Saliente, limite: usize) -> Puesto {
        if !matches!(self.fin, Fin::Abierto) {
            return Puesto::Descartado;
        }
        if self.cola.len() >= limite {
            return self.desbordar();
        }
        self.cola.push_back(s);
        Puesto::Si
    }

    fn encolar_evento(&mut self, evento: &EventoPublicado, limite: usize) -> Puesto {
        if evento.id() <= self.ultimo_enviado {
            return Puesto::Si;
        }
        self.ultimo_enviado = evento.id();
        self.algo_enviado = true;
        self.encolar(Saliente::Evento(evento.frame.clone()), limite)
    }

    fn ir_en_vivo(&mut self, limite: usize) -> Puesto {
        let retenidos = match mem::replace(&mut self.estado, Estado::Vivo) {
            Estado::Esperando(r) | Estado::Reanudando(r) => r,
            Estado::Vivo => Vec::new(),
        };
        for evento in &retenidos {
            if self.encolar_evento(evento, limite) != Puesto::Si {
                return Puesto::Desbordado;
            }
        }
        Puesto::Si
    }

    fn desbordar(&mut self) -> Puesto {
        crate::metricas::cliente_lento();
        self.cola.clear();
        self.estado = Estado::Vivo;
        self.fin = Fin::Cerrando(Some(CloseReason {
            code: CloseCode::Other(cierre::DEMASIADO_LENTO),
            description: Some("demasiado lento".into()),
        }));
        Puesto::Desbordado
    }
}

/// A session's buzon together with its actor: what the `Sucursal` and the
/// `Monitor` hold to deliver to it, and the `Dispatcher` to close it.
#[derive(Clone)]
pub struct Salida {
    pub buzon: Arc<Buzon>,
    pub sesion: Addr<Session>,
    /// The socket thread its writer runs on; `None` for a session without
    /// a socket (the fan-out benchmark), which is delivered to in place.
    pub hilo: Option<Hilo>,
}

/// A socket thread's side of the fan-out. A `Sucursal` hands each event to
/// each thread once, with the thread's members; the thread puts it in their
/// buzones and wakes their writers there. Waking 10,000 writers from the
/// `Sucursal`'s thread instead costs a lock and a queue push across threads
/// per socket, and the socket thread takes them back out one by one.
#[derive(Clone)]
pub struct Hilo {
    indice: usize,
    arbitro: ArbiterHandle,
    repartos: mpsc::UnboundedSender<Reparto>,
}

/// One event for the members of one socket thread.
pub struct Reparto {
    pub evento: Arc<EventoPublicado>,
    pub miembros: Arc<[Miembro]>,
}

/// A desk or kitchen session, as its `Sucursal` knows it.
#[derive(Clone)]
pub struct Miembro {
    pub salida: Salida,
    pub perfil: Perfil,
}

impl Hilo {
    /// The `indice`-th socket thread, run by `arbitro`: events handed over
    /// are delivered there in the order they were handed over.
    pub fn new(indice: usize, arbitro: ArbiterHandle) -> Self {
        let (repartos, mut llegan) = mpsc::unbounded_channel::<Reparto>();
        arbitro.spawn(async move {
            while let Some(reparto) = llegan.recv().await {
                reparto.entregar();
            }
        });
        Self {
            indice,
            arbitro,
            repartos,
        }
    }

    /// Which socket thread: members with the same one share a [`Reparto`].
    pub fn indice(&self) -> usize {
        self.indice
    }

    /// The thread's event loop, where its sockets' actors and writers run.
    pub fn arbitro(&self) -> &ArbiterHandle {
        &self.arbitro
    }

    /// Hands `reparto` to the thread; dropped if the thread is gone (and
    /// with it, its sockets).
    pub fn repartir(&self, reparto: Reparto) {
        let _ = self.repartos.send(reparto);
    }
}

impl Reparto {
    /// Puts the event in the buzon of each member it is addressed to.
    pub fn entregar(&self) {
        let (sucursal, destinos) = (self.evento.sucursal_id(), self.evento.destinos());
        let mut entregas = 0;
        for m in self.miembros.iter() {
            if m.perfil.puede_recibir(sucursal, destinos) {
                m.salida.entregar(&self.evento);
                entregas += 1;
            }
        }
        crate::metricas::entregas(entregas);
    }
}

impl Salida {
    pub fn entregar(&self, evento: &Arc<EventoPublicado>) {
        let puesto = self.buzon.entregar(evento);
        if puesto != Puesto::Si {
            crate::metricas::entrega_descartada();
        }
        self.avisar(puesto);
    }

    pub fn frame(&self, texto: ByteString) {
        self.avisar(self.buzon.frame(texto));
    }

    fn avisar(&self, puesto: Puesto) {
        if puesto == Puesto::Desbordado {
            tracing::info!("cliente demasiado lento: se cierra con 4008");
            self.sesion.do_send(Cerrar {
                codigo: cierre::DEMASIADO_LENTO,
                motivo: "demasiado lento",
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modelo::Evento;
    use std::task::Wake;

    struct Contador(std::sync::atomic::AtomicUsize);
    impl Wake for Contador {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }

    fn evento(id: i64) -> Arc<EventoPublicado> {
        EventoPublicado::new(Evento {
            id: EventoId(id),
            tipo: "alerta_cocina".into(),
            subtipo: None,
            payload: sqlx::types::Json(Default::default()),
            usuario_id: None,
            sucursal_id: None,
            entidad_tipo: None,
            entidad_id: None,
            prioridad: None,
            destinos: sqlx::types::Json(Default::default()),
            fecha: time::OffsetDateTime::UNIX_EPOCH,
        })
    }

    /// Decodes the text frames of `chunk` (server frames: unmasked).
    fn textos(mut chunk: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while chunk.len() >= 2 {
            let op = chunk[0] & 0x0f;
            let (len, cab) = match chunk[1] & 0x7f {
                126 => (u16::from_be_bytes([chunk[2], chunk[3]]) as usize, 4),
                127 => (
                    u64::from_be_bytes(chunk[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                n => (n as usize, 2),
            };
            let cuerpo = &chunk[cab..cab + len];
            out.push(match op {
                1 => String::from_utf8(cuerpo.to_vec()).unwrap(),
                8 if cuerpo.is_empty() => "close".into(),
                8 => format!("close:{}", u16::from_be_bytes([cuerpo[0], cuerpo[1]])),
                9 => "ping".into(),
                _ => format!("op{op}"),
            });
            chunk = &chunk[cab + len..];
        }
        out
    }

    fn sacar_todo(buzon: &Buzon) -> Vec<String> {
        let waker = Waker::from(Arc::new(Contador(Default::default())));
        match buzon.sacar(&waker) {
            Poll::Ready(Some((b, n))) => {
                let t = textos(&b);
                assert_eq!(t.len(), n);
                t
            }
            _ => Vec::new(),
        }
    }

    fn ids(frames: &[String]) -> Vec<i64> {
        frames
            .iter()
            .filter_map(|f| serde_json::from_str::<serde_json::Value>(f).ok())
            .filter_map(|v| v["id"].as_i64())
            .collect()
    }

    #[test]
    fn hola_va_primero_y_los_eventos_esperan_a_ir_en_vivo() {
        let buzon = Buzon::new(10);
        assert_eq!(buzon.frame("{\"type\":\"presencia\"}".into()), Puesto::Si);
        assert_eq!(buzon.entregar(&evento(6)), Puesto::Si);
        assert!(sacar_todo(&buzon).is_empty(), "nada sale antes de hola");
        buzon.saludar("{\"type\":\"hola\"}".into(), EventoId(5));
        let primeros = sacar_todo(&buzon);
        assert_eq!(
            primeros,
            vec!["{\"type\":\"hola\"}", "{\"type\":\"presencia\"}"]
        );
        assert!(buzon.esperando());
        assert_eq!(buzon.ir_en_vivo(), Puesto::Si);
        assert_eq!(buzon.entregar(&evento(7)), Puesto::Si);
        assert_eq!(ids(&sacar_todo(&buzon)), vec![6, 7]);
    }

    #[test]
    fn la_reanudacion_no_repite_ni_salta_ids() {
        let buzon = Buzon::new(10);
        buzon.saludar("{}".into(), EventoId(10));
        buzon.empezar_reanudacion();
        // Live events arrive while the replay is read: 11 is in both.
        assert_eq!(buzon.entregar(&evento(11)), Puesto::Si);
        assert_eq!(buzon.entregar(&evento(12)), Puesto::Si);
        assert_eq!(
            buzon.reanudar(EventoId(7), lote(&[8, 9, 11]), EventoId(11)),
            Ok(Puesto::Si)
        );
        assert_eq!(buzon.entregar(&evento(12)), Puesto::Si);
        assert_eq!(buzon.entregar(&evento(13)), Puesto::Si);
        assert_eq!(ids(&sacar_todo(&buzon)), vec![8, 9, 11, 12, 13]);
    }

    fn lote(ids: &[i64]) -> Vec<(EventoId, ByteString)> {
        ids.iter()
            .map(|&id| (EventoId(id), evento(id).json.clone()))
            .collect()
    }

    #[test]
    fn una_segunda_reanudacion_no_repite_lo_que_ya_salio() {
        let buzon = Buzon::new(10);
        buzon.saludar("{}".into(), EventoId(10));
        buzon.empezar_reanudacion();
        assert_eq!(
            buzon.reanudar(EventoId(5), lote(&[6, 8]), EventoId(10)),
            Ok(Puesto::Si)
        );
        assert_eq!(buzon.entregar(&evento(11)), Puesto::Si);
        assert_eq!(ids(&sacar_todo(&buzon)), vec![6, 8, 11]);
        // From the same point again (after a reinicio, say): only what is new.
        buzon.reiniciar();
        assert_eq!(buzon.entregar(&evento(12)), Puesto::Si);
        assert!(
            sacar_todo(&buzon).is_empty(),
            "tras reiniciar, los eventos esperan"
        );
        buzon.empezar_reanudacion();
        assert_eq!(
            buzon.reanudar(EventoId(5), lote(&[6, 8, 11, 12]), EventoId(12)),
            Ok(Puesto::Si)
        );
        assert_eq!(buzon.entregar(&evento(13)), Puesto::Si);
        assert_eq!(ids(&sacar_todo(&buzon)), vec![12, 13]);
    }

    #[test]
    fn lo_anterior_al_inicio_no_sale_tras_un_evento_posterior() {
        let buzon = Buzon::new(10);
        buzon.saludar("{}".into(), EventoId(10));
        assert_eq!(buzon.ir_en_vivo(), Puesto::Si);
        // Live, but nothing went out yet: the stream may start lower.
        buzon.empezar_reanudacion();
        assert_eq!(
            buzon.reanudar(EventoId(7), lote(&[9]), EventoId(10)),
            Ok(Puesto::Si)
        );
        assert_eq!(ids(&sacar_todo(&buzon)), vec![9]);

        let buzon = Buzon::new(10);
        buzon.saludar("{}".into(), EventoId(10));
        assert_eq!(buzon.ir_en_vivo(), Puesto::Si);
        assert_eq!(buzon.entregar(&evento(11)), Puesto::Si);
        buzon.empezar_reanudacion();
        assert_eq!(buzon.entregar(&evento(12)), Puesto::Si);
        // 9 would go out after 11.
        assert_eq!(
            buzon.reanudar(EventoId(7), lote(&[9, 11, 12]), EventoId(12)),
            Err(Hueco)
        );
        // Nothing before 11 is missing: only 12 goes out, once.
        assert_eq!(
            buzon.reanudar(EventoId(10), lote(&[11, 12]), EventoId(12)),
            Ok(Puesto::Si)
        );
        assert_eq!(ids(&sacar_todo(&buzon)), vec![11, 12]);
    }

    #[test]
    fn un_cliente_lento_pierde_su_cola_y_recibe_4008() {
        let buzon = Buzon::new(3);
        buzon.saludar("{}".into(), EventoId(0));
        let _ = buzon.ir_en_vivo();
        sacar_todo(&buzon);
        for id in 1..=3 {
            assert_eq!(buzon.entregar(&evento(id)), Puesto::Si);
        }
        assert_eq!(buzon.entregar(&evento(4)), Puesto::Desbordado);
        assert_eq!(buzon.entregar(&evento(5)), Puesto::Descartado);
        assert_eq!(sacar_todo(&buzon), vec!["close:4008"]);
        let waker = Waker::from(Arc::new(Contador(Default::default())));
        assert_eq!(buzon.sacar(&waker), Poll::Ready(None));
    }

    #[test]
    fn despierta_a_la_conexion_una_vez_por_espera() {
        let buzon = Buzon::new(10);
        buzon.saludar("{}".into(), EventoId(0));
        let _ = buzon.ir_en_vivo();
        let contador = Arc::new(Contador(Default::default()));
        let waker = Waker::from(contador.clone());
        assert!(buzon.sacar(&waker).is_ready());
        assert!(buzon.sacar(&waker).is_pending());
        let _ = buzon.entregar(&evento(1));
        let _ = buzon.entregar(&evento(2));
        assert_eq!(contador.0.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(ids(&sacar_todo(&buzon)), vec![1, 2]);
    }

    #[test]
    fn un_evento_solo_sale_con_su_frame_compartido() {
        let buzon = Buzon::new(10);
        buzon.saludar("{\"type\":\"hola\"}".into(), EventoId(0));
        // `hola` alone is framed like any other text, never dropped.
        assert_eq!(sacar_todo(&buzon), vec!["{\"type\":\"hola\"}"]);
        assert_eq!(buzon.ir_en_vivo(), Puesto::Si);
        let uno = evento(1);
        assert_eq!(buzon.entregar(&uno), Puesto::Si);
        let waker = Waker::from(Arc::new(Contador(Default::default())));
        let Poll::Ready(Some((chunk, 1))) = buzon.sacar(&waker) else {
            panic!("one frame expected");
        };
        assert_eq!(
            chunk.as_ptr(),
            uno.frame.as_ptr(),
            "the shared bytes, not a copy"
        );
        assert_eq!(ids(&textos(&chunk)), vec![1]);
        // Several queued events (or an event and a close) are joined in one chunk.
        let _ = buzon.entregar(&evento(2));
        let _ = buzon.entregar(&evento(3));
        assert_eq!(ids(&sacar_todo(&buzon)), vec![2, 3]);
        let _ = buzon.entregar(&evento(4));
        buzon.cerrar(None);
        let ultimos = sacar_todo(&buzon);
        assert_eq!(ids(&ultimos), vec![4]);
        assert_eq!(
            ultimos[1], "close",
            "the event, then the close: {ultimos:?}"
        );
    }

    #[test]
    fn cerrar_envia_lo_encolado_y_luego_el_cierre() {
        let buzon = Buzon::new(10);
        buzon.saludar("{}".into(), EventoId(0));
        buzon.cerrar(Some(CloseReason {
            code: CloseCode::Away,
            description: Some("apagando".into()),
        }));
        assert_eq!(buzon.frame("x".into()), Puesto::Descartado);
        assert_eq!(sacar_todo(&buzon), vec!["{}", "close:1001"]);
    }
}
