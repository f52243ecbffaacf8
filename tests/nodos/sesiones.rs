//! A login that ends on one node ends its sockets on every node: a logout
//! closes them with 4001, a change to the account with 4003, within two
//! seconds — also when the nodes' LISTEN connections were just cut and the
//! revocation reaches them by catching up.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::arnes::{Ajustes, BaseDeDatos, Cluster, Conexion, Frame, Nodo, Socket, conectar};

/// How long a revocation may take to close a socket on another node.
const REVOCACION: Duration = Duration::from_secs(2);

/// An open socket of `token` on `nodo`, live from its `hola`.
async fn socket(nodo: &Nodo, token: &str, quien: &str) -> Box<Socket> {
    match conectar(nodo.puerto, token).await {
        Conexion::Abierta(mut socket) => {
            let ultimo = socket.hola["ultimo_id"].as_i64().expect("hola.ultimo_id");
            assert!(socket.reanudar(ultimo).await, "{quien}: el socket se cerró");
            socket
        }
        otra => panic!("{quien} no pudo abrir su socket en {}: {otra:?}", nodo.id),
    }
}

/// Reads `socket` until the server closes it: the close code, or `None` if
/// it is still open at `hasta`.
async fn cierre_antes_de(socket: &mut Socket, hasta: Instant) -> Option<u16> {
    loop {
        match socket.siguiente(hasta).await {
            Frame::Cerrado(codigo) => return Some(codigo),
            Frame::Nada => return None,
            Frame::Evento(_) | Frame::Otro(_) => continue,
        }
    }
}

/// Each of `sockets` must be closed with `codigo` by `hasta`.
async fn se_cierran(
    cluster: &Cluster,
    sockets: &mut [(&str, &mut Socket)],
    codigo: u16,
    hasta: Instant,
) {
    for (quien, socket) in sockets.iter_mut() {
        assert_eq!(
            cierre_antes_de(socket, hasta).await,
            Some(codigo),
            "{quien}: no se cerró con {codigo} dentro de {REVOCACION:?}\n{}",
            cluster.registros()
        );
    }
}

async fn logout(nodo: &Nodo, token: &str) {
    let r = nodo
        .post("/api/logout", token, &json!({}))
        .await
        .expect("logout");
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "logout en {}", nodo.id);
}

/// `pg_terminate_backend` on every node's LISTEN connection.
async fn cortar_las_escuchas(base: &BaseDeDatos) {
    let mut conn = base.conectar().await;
    let cortadas: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = $1 AND application_name = 'comanda-escucha'",
    )
    .bind(&base.nombre)
    .fetch_all(&mut conn)
    .await
    .expect("pg_terminate_backend");
    assert_eq!(cortadas, [true, true, true], "las tres conexiones LISTEN");
}

/// A kitchen alert of sucursal 1 published on `nodo` by `servicio1`.
async fn alerta(nodo: &Nodo, mensaje: &str) -> i64 {
    let bot = nodo.token("servicio1").await;
    let cuerpo = json!({"tipo": "alerta_cocina", "sucursal_id": 1, "mensaje": mensaje});
    let r = nodo
        .post("/api/eventos", &bot, &cuerpo)
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.unwrap();
    v["id"].as_i64().expect("id")
}

/// The alert `id` reaches `socket`, which stays open.
async fn recibe(socket: &mut Socket, id: i64, quien: &str) {
    let hasta = Instant::now() + Duration::from_secs(10);
    loop {
        match socket.siguiente(hasta).await {
            Frame::Evento(v) if v["id"] == id => return,
            Frame::Evento(_) | Frame::Otro(_) => continue,
            otro => panic!("{quien}: esperaba el evento {id}, llegó {otro:?}"),
        }
    }
}

/// Logs `cocina1` out on node A while the same login has sockets on B and
/// C, and another login of the account a socket on C: the first two close
/// with 4001, the third goes on. With `cortar`, every node's LISTEN
/// connection is cut just before the logout.
async fn cerrar_sesion_en_a(cortar: bool) {
    let cluster = Cluster::levantar(Ajustes::default()).await;
    let [a, b, c] = &cluster.nodos[..] else {
        panic!("tres nodos")
    };
    let token = a.token("cocina1").await;
    let otro = b.token("cocina1").await;
    let mut en_b = socket(b, &token, "cocina1 en b").await;
    let mut en_c = socket(c, &token, "cocina1 en c").await;
    let mut otro_en_c = socket(c, &otro, "otra sesión de cocina1 en c").await;

    if cortar {
        cortar_las_escuchas(&cluster.base).await;
    }
    logout(a, &token).await;
    let hasta = Instant::now() + REVOCACION;
    se_cierran(
        &cluster,
        &mut [("cocina1 en b", &mut en_b), ("cocina1 en c", &mut en_c)],
        4001,
        hasta,
    )
    .await;

    let id = alerta(a, "la otra sesión sigue").await;
    recibe(&mut otro_en_c, id, "otra sesión de cocina1 en c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cerrar_sesion_en_un_nodo_cierra_sus_sockets_en_los_otros_con_4001_en_dos_segundos() {
    cerrar_sesion_en_a(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cerrar_sesion_justo_tras_cortar_la_escucha_de_los_nodos_tambien_cierra_sus_sockets() {
    cerrar_sesion_en_a(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cambiar_una_cuenta_en_un_nodo_cierra_sus_sockets_en_los_otros_con_4003() {
    let cluster = Cluster::levantar(Ajustes::default()).await;
    let [a, b, c] = &cluster.nodos[..] else {
        panic!("tres nodos")
    };
    let jefa = a.token("superadmin").await;
    let usuarios: Value = a
        .get("/api/usuarios", &jefa)
        .await
        .expect("usuarios")
        .json()
        .await
        .unwrap();
    let id_de = |login: &str| {
        usuarios["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["usuario"] == login)
            .and_then(|u| u["id"].as_i64())
            .unwrap_or_else(|| panic!("{login} en {usuarios}"))
    };
    let cambiar = async |login: &str, cambio: Value| {
        let r = a
            .patch(&format!("/api/usuarios/{}", id_de(login)), &jefa, &cambio)
            .await
            .expect("PATCH");
        assert_eq!(r.status(), StatusCode::OK, "PATCH de {login}");
    };

    let cocina = b.token("cocina1").await;
    let mut cocina_en_b = socket(b, &cocina, "cocina1 en b").await;
    let mut cocina_en_c = socket(c, &cocina, "cocina1 en c").await;
    let atencion = c.token("atencion1").await;
    let mut atencion_en_b = socket(b, &atencion, "atencion1 en b").await;
    let mut cocina2_en_b = socket(b, &b.token("cocina2").await, "cocina2 en b").await;

    cambiar("cocina1", json!({"activo": false})).await;
    let hasta = Instant::now() + REVOCACION;
    se_cierran(
        &cluster,
        &mut [
            ("cocina1 en b", &mut cocina_en_b),
            ("cocina1 en c", &mut cocina_en_c),
        ],
        4003,
        hasta,
    )
    .await;

    cambiar("atencion1", json!({"password": "otra-contraseña-1"})).await;
    let hasta = Instant::now() + REVOCACION;
    se_cierran(
        &cluster,
        &mut [("atencion1 en b", &mut atencion_en_b)],
        4003,
        hasta,
    )
    .await;

    // Another account's screen on the same node goes on.
    assert_eq!(
        cierre_antes_de(
            &mut cocina2_en_b,
            Instant::now() + Duration::from_millis(300)
        )
        .await,
        None,
        "cocina2 no tenía nada que ver"
    );
}
