//! One run of the realtime path over several nodes: publishers on some
//! nodes, screens on others, something that goes wrong in the middle, and
//! the check that every screen got exactly its events, once, in order.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::nodo::Cluster;
use super::pantalla::{
    Modo, Pantalla, Perfil, Registro, eventos_en_la_base, ultimo_id, verificar_todas,
};
use super::publicador::{AlFallar, Publicador, Resultado};

/// How long the publishing may take, interruptions included.
const PUBLICACION: Duration = Duration::from_secs(90);

/// A screen of the run: who, how it behaves, on which node it starts.
#[derive(Debug, Clone, Copy)]
pub struct UnaPantalla {
    pub nombre: &'static str,
    pub perfil: Perfil,
    pub modo: Modo,
    pub nodo: usize,
}

impl UnaPantalla {
    /// Stays on `nodo` (moves on only if its socket is closed).
    pub const fn fija(nombre: &'static str, perfil: Perfil, nodo: usize) -> Self {
        Self {
            nombre,
            perfil,
            modo: Modo::Quedarse,
            nodo,
        }
    }

    /// Hops from node to node, starting at `nodo`.
    pub const fn que_salta(nombre: &'static str, perfil: Perfil, nodo: usize) -> Self {
        Self {
            nombre,
            perfil,
            modo: Modo::Saltar,
            nodo,
        }
    }
}

/// A publisher of the run: in sucursal `Some(s)` as `servicio{s}`, or
/// chain-wide (`None`) as `superadmin`; on which node; how many acknowledged
/// publishes it aims for; what it does on a failed one; how long it waits
/// between two (to spread them over an interruption).
#[derive(Debug, Clone, Copy)]
pub struct UnPublicador {
    pub sucursal: Option<i64>,
    pub nodo: usize,
    pub cantidad: usize,
    pub al_fallar: AlFallar,
    pub pausa: Duration,
}

impl UnPublicador {
    /// The `--demo` account it publishes with.
    fn usuario(&self) -> String {
        self.sucursal
            .map_or("superadmin".into(), |s| format!("servicio{s}"))
    }
}

/// What happened, for the assertions particular to each test.
pub struct Informe {
    /// Every event committed after the run began, by id.
    pub registros: Vec<Registro>,
    /// Per publisher, in the order they were given.
    pub publicaciones: Vec<Resultado>,
    pub pantallas: Vec<Pantalla>,
}

impl Informe {
    /// Every acknowledged id.
    pub fn confirmados(&self) -> BTreeSet<i64> {
        self.publicaciones
            .iter()
            .flat_map(|r| r.confirmados.iter().copied())
            .collect()
    }

    pub fn fallos(&self) -> Vec<&str> {
        self.publicaciones
            .iter()
            .flat_map(|r| r.fallos.iter().map(String::as_str))
            .collect()
    }
}

/// Runs `publicadores` and `pantallas` on `cluster` while `intervenir`
/// does its damage (it gets the count of acknowledged publishes so far, to
/// strike mid-stream). When publishing and the intervention are over, the
/// screens learn what the database holds and read until they have it all;
/// then every screen is checked, and every acknowledged publish must be in
/// the database.
pub async fn correr(
    cluster: &Cluster,
    pantallas: &[UnaPantalla],
    publicadores: &[UnPublicador],
    intervenir: impl AsyncFnOnce(&AtomicUsize),
) -> Informe {
    let inicio = Instant::now();
    let desde = ultimo_id(&cluster.base).await;
    let puertos = cluster.puertos();

    let mut tokens: BTreeMap<String, String> = BTreeMap::new();
    let usuarios = pantallas
        .iter()
        .map(|p| p.perfil.usuario())
        .chain(publicadores.iter().map(UnPublicador::usuario));
    for (n, usuario) in usuarios.enumerate() {
        if let Entry::Vacant(sitio) = tokens.entry(usuario) {
            let nodo = &cluster.nodos[n % cluster.nodos.len()];
            let token = nodo.token(sitio.key()).await;
            sitio.insert(token);
        }
    }

    let mut vivas: Vec<Pantalla> = pantallas
        .iter()
        .map(|p| {
            Pantalla::nueva(
                p.nombre,
                p.perfil,
                tokens[&p.perfil.usuario()].clone(),
                desde,
            )
        })
        .collect();
    let quienes: Vec<Publicador> = publicadores
        .iter()
        .enumerate()
        .map(|(n, p)| {
            let nombre = format!("pub{n}@{}", cluster.nodos[p.nodo].id);
            Publicador::nuevo(&nombre, tokens[&p.usuario()].clone(), p.sucursal)
        })
        .collect();

    let (aviso, objetivo) = watch::channel(None);
    let progreso = AtomicUsize::new(0);
    let limite = Instant::now() + PUBLICACION;

    let ver = futures_util::future::join_all(
        vivas
            .iter_mut()
            .zip(pantallas)
            .map(|(p, plan)| p.vivir(&puertos, plan.nodo, plan.modo, objetivo.clone())),
    );
    let publicar = async {
        let publicar = futures_util::future::join_all(quienes.iter().zip(publicadores).map(
            |(quien, plan)| {
                quien.publicar(
                    &cluster.nodos[plan.nodo],
                    plan.cantidad,
                    plan.al_fallar,
                    plan.pausa,
                    &progreso,
                    limite,
                )
            },
        ));
        let (publicaciones, ()) = tokio::join!(publicar, intervenir(&progreso));
        let publicado_en = inicio.elapsed();
        let registros = eventos_en_la_base(&cluster.base, desde).await;
        let _ = aviso.send(Some(Arc::new(registros.clone())));
        (publicaciones, registros, publicado_en)
    };
    let ((publicaciones, registros, publicado_en), _) = tokio::join!(publicar, ver);
    let duracion = inicio.elapsed();
    let informe = Informe {
        registros,
        publicaciones,
        pantallas: vivas,
    };
    println!(
        "{} eventos, {} confirmados, {} fallos de publicación, {} pantallas; publicado en {:.1?}, recibido en {:.1?}",
        informe.registros.len(),
        informe.confirmados().len(),
        informe.fallos().len(),
        informe.pantallas.len(),
        publicado_en,
        duracion
    );

    for p in &informe.pantallas {
        println!("  {}", p.resumen());
    }
    // Every acknowledged publish was committed.
    let en_la_base: BTreeSet<i64> = informe.registros.iter().map(|r| r.id).collect();
    let perdidos: Vec<i64> = informe
        .confirmados()
        .difference(&en_la_base)
        .copied()
        .collect();
    assert!(
        perdidos.is_empty(),
        "publicaciones confirmadas (2xx) que no están en eventos_realtime: {perdidos:?}"
    );
    // Each screen has something to get: a run where one expects nothing proves nothing.
    for p in &informe.pantallas {
        assert!(
            !p.esperados(&informe.registros).is_empty(),
            "{}: el plan no le da ningún evento",
            p.nombre
        );
    }
    verificar_todas(&informe.pantallas, &informe.registros, &cluster.registros());
    informe
}
