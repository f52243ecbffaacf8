//! Screens that come and go between nodes, and what each must end with.
//!
//! A [`Pantalla`] remembers every event id it was given, on which node, and
//! through which connection; when the publishing is over it is told what
//! the database holds ([`Objetivo`]) and reads until it has everything it
//! may see — or until the deadline, and then [`Pantalla::verificar`] says
//! exactly which ids are missing, repeated or out of order.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::base::BaseDeDatos;
use super::socket::{Conexion, Frame, Socket, conectar};

/// How long a screen has, once publishing is over, to get everything.
pub const PLAZO: Duration = Duration::from_secs(20);
/// After the last expected event: a quiet spell in which nothing else may come.
const SILENCIO: Duration = Duration::from_millis(300);

/// Who looks at the screen: what it may see (design §2 and the shipped
/// `rules/destinos.rhai`, as stored in each event's `destinos`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perfil {
    Superadmin,
    Admin(i64),
    Atencion(i64),
    Cocina(i64),
}

impl Perfil {
    /// The `--demo` account.
    pub fn usuario(self) -> String {
        match self {
            Perfil::Superadmin => "superadmin".into(),
            Perfil::Admin(s) => format!("admin{s}"),
            Perfil::Atencion(s) => format!("atencion{s}"),
            Perfil::Cocina(s) => format!("cocina{s}"),
        }
    }

    /// Monitors see every event of their scope; desk and kitchen, their
    /// sucursal's events addressed to them.
    pub fn puede_ver(self, r: &Registro) -> bool {
        let destinado = |a: &str| r.destinos.iter().any(|d| d == a);
        match self {
            Perfil::Superadmin => true,
            Perfil::Admin(s) => r.sucursal_id == Some(s),
            Perfil::Atencion(s) => r.sucursal_id == Some(s) && destinado("atencion"),
            Perfil::Cocina(s) => r.sucursal_id == Some(s) && destinado("cocina"),
        }
    }
}

/// A row of `eventos_realtime`, as much as delivery depends on.
#[derive(Debug, Clone)]
pub struct Registro {
    pub id: i64,
    pub sucursal_id: Option<i64>,
    pub destinos: Vec<String>,
}

impl Registro {
    /// A row `(id, sucursal_id, destinos as JSON text)` of `eventos_realtime`.
    pub fn de_fila((id, sucursal_id, destinos): (i64, Option<i64>, String)) -> Self {
        Registro {
            id,
            sucursal_id,
            destinos: serde_json::from_str(&destinos)
                .unwrap_or_else(|e| panic!("destinos del evento {id} ({destinos}): {e}")),
        }
    }
}

/// The newest event id in the database (0 when there is none).
pub async fn ultimo_id(base: &BaseDeDatos) -> i64 {
    let mut conn = base.conectar().await;
    sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM eventos_realtime")
        .fetch_one(&mut conn)
        .await
        .expect("max(id)")
        .unwrap_or(0)
}

/// Every event committed after `desde`, by id.
pub async fn eventos_en_la_base(base: &BaseDeDatos, desde: i64) -> Vec<Registro> {
    let mut conn = base.conectar().await;
    let filas: Vec<(i64, Option<i64>, String)> = sqlx::query_as(
        "SELECT id, sucursal_id, destinos::text FROM eventos_realtime
         WHERE id > $1 ORDER BY id",
    )
    .bind(desde)
    .fetch_all(&mut conn)
    .await
    .expect("eventos_realtime");
    filas.into_iter().map(Registro::de_fila).collect()
}

/// What the screens are told once publishing is over: every row committed.
pub type Objetivo = watch::Receiver<Option<Arc<Vec<Registro>>>>;

/// How a screen behaves while events are being published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Modo {
    /// Stays on its node, reading live; goes to the next node only if
    /// its socket is closed.
    Quedarse,
    /// Reads a few events, leaves (a clean close or a cut connection) and
    /// resumes on the next node, over and over.
    Saltar,
}

/// One connection of a screen: where, from which id, what it got, how it ended.
struct Tramo {
    nodo: String,
    desde: i64,
    ids: Vec<i64>,
    fin: String,
}

pub struct Pantalla {
    pub nombre: String,
    pub perfil: Perfil,
    token: String,
    /// The id it resumed from the first time.
    desde: i64,
    vistos: Vec<i64>,
    tramos: Vec<Tramo>,
    /// Frames it should never have got (`reinicio`, `error`).
    extranos: Vec<String>,
    socket: Option<Box<Socket>>,
}

impl Pantalla {
    pub fn nueva(nombre: &str, perfil: Perfil, token: String, desde: i64) -> Self {
        Self {
            nombre: nombre.to_owned(),
            perfil,
            token,
            desde,
            vistos: Vec::new(),
            tramos: Vec::new(),
            extranos: Vec::new(),
            socket: None,
        }
    }

    pub fn ultimo(&self) -> i64 {
        self.vistos.last().copied().unwrap_or(self.desde)
    }

    /// Connects to the first node, from `nodos[i]` on, that takes it, and
    /// resumes from its last id; tries again until `limite`.
    /// Answers the index of the node.
    async fn entrar(&mut self, nodos: &[(String, u16)], mut i: usize, limite: Instant) -> usize {
        let mut intentos = Vec::new();
        loop {
            let (id, puerto) = &nodos[i % nodos.len()];
            match conectar(*puerto, &self.token).await {
                Conexion::Abierta(mut socket) => {
                    let desde = self.ultimo();
                    if socket.reanudar(desde).await {
                        self.socket = Some(socket);
                        self.tramos.push(Tramo {
                            nodo: id.clone(),
                            desde,
                            ids: Vec::new(),
                            fin: "abierto".into(),
                        });
                        return i % nodos.len();
                    }
                    intentos.push(format!("{id}: cerrado antes de reanudar"));
                }
                otra => intentos.push(format!("{id}: {otra:?}")),
            }
            assert!(
                Instant::now() < limite,
                "{}: ningún nodo aceptó el socket; intentos: {:?}",
                self.nombre,
                &intentos[intentos.len().saturating_sub(10)..]
            );
            i += 1;
            if i.is_multiple_of(nodos.len()) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// Reads until `max` events came, `hasta` passed, or the socket closed
    /// (then answers false and forgets it).
    async fn leer(&mut self, max: usize, hasta: Instant) -> bool {
        let mut leidos = 0;
        while leidos < max {
            let Some(socket) = self.socket.as_mut() else {
                return false;
            };
            match socket.siguiente(hasta).await {
                Frame::Evento(v) => {
                    let id = v["id"]
                        .as_i64()
                        .unwrap_or_else(|| panic!("evento sin id: {v}"));
                    self.vistos.push(id);
                    if let Some(tramo) = self.tramos.last_mut() {
                        tramo.ids.push(id);
                    }
                    leidos += 1;
                }
                Frame::Otro(v) => {
                    if v["type"] == "reinicio" || v["type"] == "error" {
                        let nodo = self.tramos.last().map_or("", |t| t.nodo.as_str());
                        self.extranos.push(format!("{nodo}: {v}"));
                    }
                }
                Frame::Cerrado(codigo) => {
                    self.socket = None;
                    if let Some(tramo) = self.tramos.last_mut() {
                        tramo.fin = format!("se cerró ({codigo})");
                    }
                    return false;
                }
                Frame::Nada => return true,
            }
        }
        true
    }

    /// Leaves its node: half the time a clean close, half a cut connection.
    async fn salir(&mut self) {
        let Some(socket) = self.socket.take() else {
            return;
        };
        let limpio = rand::random::<bool>();
        if let Some(tramo) = self.tramos.last_mut() {
            tramo.fin = if limpio { "cerró" } else { "cortó" }.into();
        }
        if limpio {
            socket.cerrar().await;
        } else {
            socket.cortar();
        }
    }

    /// The last id this screen may see among `registros`.
    fn meta(&self, registros: &[Registro]) -> i64 {
        registros
            .iter()
            .filter(|r| self.perfil.puede_ver(r))
            .map(|r| r.id)
            .next_back()
            .unwrap_or(self.desde)
            .max(self.desde)
    }

    /// How many times it connected, and how its connections ended.
    pub fn resumen(&self) -> String {
        let mut fines: BTreeMap<&str, usize> = BTreeMap::new();
        for t in &self.tramos {
            *fines.entry(t.fin.as_str()).or_default() += 1;
        }
        format!(
            "{}: {} conexiones {fines:?}",
            self.nombre,
            self.tramos.len()
        )
    }

    /// What the database says this screen must end with.
    pub fn esperados(&self, registros: &[Registro]) -> Vec<i64> {
        registros
            .iter()
            .filter(|r| r.id > self.desde && self.perfil.puede_ver(r))
            .map(|r| r.id)
            .collect()
    }

    /// Lives on `nodos` from `nodos[inicio]` on, the way `modo` says, until
    /// `objetivo` says what was committed; then reads until it has every
    /// event up to the last it may see (reconnecting if it must), or until
    /// [`PLAZO`]; then listens a little longer for anything extra.
    pub async fn vivir(
        &mut self,
        nodos: &[(String, u16)],
        inicio: usize,
        modo: Modo,
        mut objetivo: Objetivo,
    ) {
        let mut i = self.entrar(nodos, inicio, Instant::now() + PLAZO).await;
        // Publishing: come and go, or stay.
        while objetivo.borrow_and_update().is_none() {
            if self.socket.is_none() {
                i = self.entrar(nodos, i + 1, Instant::now() + PLAZO).await;
            }
            match modo {
                Modo::Quedarse => {
                    self.leer(usize::MAX, Instant::now() + Duration::from_millis(200))
                        .await;
                }
                Modo::Saltar => {
                    let cuantos = rand::random_range(0..80);
                    let espera = Duration::from_millis(rand::random_range(20..250));
                    if self.leer(cuantos, Instant::now() + espera).await {
                        self.salir().await;
                    }
                    i = self.entrar(nodos, i + 1, Instant::now() + PLAZO).await;
                }
            }
        }
        // Published: read up to the last event this screen may see.
        let registros = objetivo.borrow().clone().expect("objetivo");
        let meta = self.meta(&registros);
        let limite = Instant::now() + PLAZO;
        while self.ultimo() < meta && Instant::now() < limite {
            if self.socket.is_none() {
                i = self.entrar(nodos, i + 1, limite).await;
            }
            self.leer(
                usize::MAX,
                limite.min(Instant::now() + Duration::from_millis(500)),
            )
            .await;
            if self.ultimo() >= meta {
                break;
            }
        }
        self.leer(usize::MAX, Instant::now() + SILENCIO).await;
    }

    /// Every expected id once, in increasing order, nothing else; or a
    /// description of what went wrong and where.
    pub fn verificar(&self, esperados: &[i64]) -> Result<(), String> {
        let mut veces: BTreeMap<i64, usize> = BTreeMap::new();
        for id in &self.vistos {
            *veces.entry(*id).or_default() += 1;
        }
        let repetidos: Vec<i64> = veces
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, _)| *id)
            .collect();
        let desordenados: Vec<(i64, i64)> = self
            .vistos
            .windows(2)
            .filter(|w| w[0] >= w[1])
            .map(|w| (w[0], w[1]))
            .collect();
        let esperados_set: BTreeSet<i64> = esperados.iter().copied().collect();
        let faltan: Vec<i64> = esperados
            .iter()
            .copied()
            .filter(|id| !veces.contains_key(id))
            .collect();
        let sobran: Vec<i64> = veces
            .keys()
            .copied()
            .filter(|id| !esperados_set.contains(id))
            .collect();
        if repetidos.is_empty()
            && desordenados.is_empty()
            && faltan.is_empty()
            && sobran.is_empty()
            && self.extranos.is_empty()
        {
            return Ok(());
        }
        let mut m = format!(
            "{} ({:?}, desde {}): {} eventos recibidos de {} esperados\n",
            self.nombre,
            self.perfil,
            self.desde,
            self.vistos.len(),
            esperados.len()
        );
        let lista = |ids: &[i64]| format!("{} → {:?}", ids.len(), &ids[..ids.len().min(30)]);
        if !faltan.is_empty() {
            let _ = writeln!(m, "  faltan {}", lista(&faltan));
        }
        if !repetidos.is_empty() {
            let _ = writeln!(m, "  repetidos {}", lista(&repetidos));
        }
        if !desordenados.is_empty() {
            let _ = writeln!(
                m,
                "  fuera de orden (anterior, siguiente) {} → {:?}",
                desordenados.len(),
                &desordenados[..desordenados.len().min(15)]
            );
        }
        if !sobran.is_empty() {
            let _ = writeln!(m, "  no le tocaban {}", lista(&sobran));
        }
        if !self.extranos.is_empty() {
            let _ = writeln!(m, "  frames inesperados: {:?}", self.extranos);
        }
        let _ = writeln!(m, "  conexiones ({}):", self.tramos.len());
        for t in self.tramos_relevantes(&faltan, &repetidos) {
            let _ = writeln!(
                m,
                "    {} reanudó desde {}: {} eventos {} … {} ({})",
                t.nodo,
                t.desde,
                t.ids.len(),
                t.ids.first().map_or("-".into(), i64::to_string),
                t.ids.last().map_or("-".into(), i64::to_string),
                t.fin
            );
        }
        Err(m)
    }

    /// The connections around the first problems (all of them when few).
    fn tramos_relevantes(&self, faltan: &[i64], repetidos: &[i64]) -> Vec<&Tramo> {
        if self.tramos.len() <= 12 {
            return self.tramos.iter().collect();
        }
        let primero = faltan
            .first()
            .into_iter()
            .chain(repetidos.first())
            .copied()
            .min()
            .unwrap_or(i64::MAX);
        let pos = self
            .tramos
            .iter()
            .position(|t| t.ids.last().is_some_and(|u| *u >= primero))
            .unwrap_or(self.tramos.len() - 1);
        let desde = pos.saturating_sub(3);
        self.tramos[desde..(pos + 4).min(self.tramos.len())]
            .iter()
            .collect()
    }
}

/// Checks every screen against the database and fails with all problems.
pub fn verificar_todas(pantallas: &[Pantalla], registros: &[Registro], contexto: &str) {
    let problemas: Vec<String> = pantallas
        .iter()
        .filter_map(|p| p.verificar(&p.esperados(registros)).err())
        .collect();
    assert!(
        problemas.is_empty(),
        "{} de {} pantallas no recibieron exactamente lo suyo ({} eventos en la base tras el inicio):\n{}\n{contexto}",
        problemas.len(),
        pantallas.len(),
        registros.len(),
        problemas.join("\n")
    );
}
