//! An event published on one node reaches the screens on the others, and
//! the scope rules hold on every node; `/api/estadisticas` shows the nodes.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::arnes::{Ajustes, Cluster, Conexion, Frame, NOMBRES, Nodo, Socket, conectar};

/// How long an event may take to cross from one node to another.
const CRUCE: Duration = Duration::from_secs(10);

/// An open socket of `usuario` on `nodo`, live from now on.
async fn pantalla(nodo: &Nodo, token: &str, quien: &str) -> Pantalla {
    match conectar(nodo.puerto, token).await {
        Conexion::Abierta(mut socket) => {
            let ultimo = socket.hola["ultimo_id"].as_i64().expect("hola.ultimo_id");
            assert!(socket.reanudar(ultimo).await, "{quien}: el socket se cerró");
            Pantalla {
                nombre: format!("{quien} en {}", nodo.id),
                socket,
            }
        }
        otra => panic!("{quien} no pudo abrir su socket en {}: {otra:?}", nodo.id),
    }
}

struct Pantalla {
    nombre: String,
    socket: Box<Socket>,
}

impl Pantalla {
    /// The next event, which must come within [`CRUCE`].
    async fn siguiente_evento(&mut self, que: &str) -> Value {
        let hasta = Instant::now() + CRUCE;
        loop {
            match self.socket.siguiente(hasta).await {
                Frame::Evento(v) => return v,
                Frame::Otro(_) => continue,
                Frame::Cerrado(codigo) => {
                    panic!(
                        "{}: el socket se cerró ({codigo}) esperando {que}",
                        self.nombre
                    )
                }
                Frame::Nada => panic!("{}: no llegó {que} en {CRUCE:?}", self.nombre),
            }
        }
    }

    /// The next event must be the alert `alerta_id` of sucursal `sucursal`.
    async fn recibe_la_alerta(&mut self, alerta_id: i64, sucursal: i64) -> i64 {
        let que = format!("la alerta {alerta_id} de la sucursal {sucursal}");
        let evento = self.siguiente_evento(&que).await;
        assert_eq!(
            (
                evento["tipo"].as_str(),
                evento["sucursal_id"].as_i64(),
                evento["payload"]["alerta_id"].as_i64()
            ),
            (Some("alerta_cocina"), Some(sucursal), Some(alerta_id)),
            "{}: se esperaba {que} y llegó {evento}",
            self.nombre
        );
        evento["id"].as_i64().unwrap()
    }
}

/// `POST /api/alertas` as atención; answers the alert's id.
async fn alertar(nodo: &Nodo, token: &str, mensaje: &str) -> i64 {
    let r = nodo
        .post(
            "/api/alertas",
            token,
            &json!({"mensaje": mensaje, "prioridad": "alta"}),
        )
        .await
        .expect("POST /api/alertas");
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert_eq!(
        status,
        StatusCode::CREATED,
        "POST /api/alertas en {}: {body}",
        nodo.id
    );
    body["id"].as_i64().expect("id de la alerta")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn una_alerta_publicada_en_un_nodo_llega_a_los_otros_dos_y_solo_a_su_sucursal() {
    // A catch-up every ten minutes: only NOTIFY can carry an event to the
    // other nodes within the deadline.
    let cluster = Cluster::levantar(Ajustes {
        latido: "200ms",
        ponerse_al_dia: "10m",
    })
    .await;
    let [a, b, c] = &cluster.nodos[..] else {
        unreachable!()
    };
    let atencion1 = a.token("atencion1").await;
    let atencion2 = b.token("atencion2").await;
    let cocina1 = c.token("cocina1").await;
    let cocina2 = a.token("cocina2").await;
    let admin2 = b.token("admin2").await;
    let superadmin = c.token("superadmin").await;

    // One screen on A, two on B, three on C.
    let _desk = pantalla(a, &atencion1, "atencion1").await;
    let mut cocina1_b = pantalla(b, &cocina1, "cocina1").await;
    let mut admin2_b = pantalla(b, &admin2, "admin2").await;
    let mut cocina1_c = pantalla(c, &cocina1, "cocina1").await;
    let mut cocina2_c = pantalla(c, &cocina2, "cocina2").await;
    let mut monitor_c = pantalla(c, &superadmin, "superadmin").await;

    // Sucursal 1's desk alerts its kitchen through node A.
    let alerta1 = alertar(a, &atencion1, "Pedido 50: sin cebolla").await;
    let e1 = cocina1_b.recibe_la_alerta(alerta1, 1).await;
    assert_eq!(cocina1_c.recibe_la_alerta(alerta1, 1).await, e1);
    assert_eq!(monitor_c.recibe_la_alerta(alerta1, 1).await, e1);

    // Sucursal 2's desk alerts its kitchen through node B: the first event
    // sucursal 2's screens get is this one — sucursal 1's never reached them.
    let alerta2 = alertar(b, &atencion2, "Pedido 51: para llevar").await;
    let e2 = cocina2_c.recibe_la_alerta(alerta2, 2).await;
    assert_eq!(admin2_b.recibe_la_alerta(alerta2, 2).await, e2);
    assert_eq!(monitor_c.recibe_la_alerta(alerta2, 2).await, e2);
    assert!(e2 > e1, "ids en orden de publicación: {e1} y luego {e2}");

    // And sucursal 1's kitchens go straight from their alert to the next
    // one (sent through node C, with the token node A gave): sucursal 2's
    // never reached them either.
    let alerta3 = alertar(c, &atencion1, "Pedido 52: extra papas").await;
    let e3 = cocina1_b.recibe_la_alerta(alerta3, 1).await;
    assert_eq!(cocina1_c.recibe_la_alerta(alerta3, 1).await, e3);
    assert_eq!(monitor_c.recibe_la_alerta(alerta3, 1).await, e3);

    // Every node lists the three, says which one it is, and counts the
    // sockets each serves (one on A, two on B, three on C).
    let esperado: Vec<(String, bool, i64)> = NOMBRES
        .iter()
        .zip([1, 2, 3])
        .map(|(id, sesiones)| (id.to_string(), false, sesiones))
        .collect();
    for nodo in &cluster.nodos {
        let limite = Instant::now() + Duration::from_secs(20);
        loop {
            let e = nodo.estadisticas(&superadmin).await;
            assert_eq!(
                e["nodo"],
                nodo.id.as_str(),
                "estadisticas de {}: {e}",
                nodo.id
            );
            let vistos: Vec<(String, bool, i64)> = e["nodos"]
                .as_array()
                .unwrap_or_else(|| panic!("estadisticas de {} sin «nodos»: {e}", nodo.id))
                .iter()
                .map(|n| {
                    for campo in ["direccion", "iniciado", "visto"] {
                        assert!(
                            n[campo].is_string(),
                            "nodo sin «{campo}» en {}: {n}",
                            nodo.id
                        );
                    }
                    (
                        n["id"].as_str().unwrap_or_default().to_owned(),
                        n["propio"].as_bool().unwrap_or_default(),
                        n["sesiones"].as_i64().unwrap_or(-1),
                    )
                })
                .collect();
            let mut esperado = esperado.clone();
            for fila in &mut esperado {
                fila.1 = fila.0 == nodo.id;
            }
            if vistos == esperado {
                break;
            }
            assert!(
                Instant::now() < limite,
                "estadisticas de {}: nodos (id, propio, sesiones) {vistos:?}, se esperaba {esperado:?}\n{e}",
                nodo.id
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
