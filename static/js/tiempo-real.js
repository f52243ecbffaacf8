// El socket de tiempo real, compartido por todas las páginas.
//
//   const rt = conectar({ ultimoId, alEvento, alPresencia, alEstado, recargar });
//
// - `usuarioId`: si el socket saluda a otra cuenta (se entró con otra en otra
//   pestaña), la página se recarga y va a la de esa cuenta.
// - `ultimoId`: el `ultimo_id` de las listas que la página ya cargó por REST.
//   Al recibir `hola` se manda {"type":"reanudar","ultimo_id":N} con ese N (o
//   el último evento visto, si es mayor): el servidor repite todo lo que pasó
//   después, en orden, y sigue en vivo. Nada se pierde entre la carga y el vivo.
//   Un socket reanuda una vez (y otra tras cada `reinicio`): el servidor
//   contesta `reanudar_repetido` a cualquier otro.
// - Cada id se aplica una sola vez (`alEvento` nunca ve un id repetido).
// - Si el socket se cae se reintenta con espera exponencial y azar (desde
//   ~300 ms hasta 10 s). Un latido (`ping`) detecta una red muerta que no avisa.
// - 4001 (sin sesión) y 4003 (la cuenta cambió) llevan al inicio de sesión.
// - 4029: la cuenta ya tiene abiertas todas las pantallas que el servidor
//   admite. El aviso lo dice y se reintenta con la espera máxima: entra en
//   cuanto otra pantalla de la cuenta se cierre.
// - `{"type":"reinicio"}` (demasiado atrás): `recargar()` vuelve a cargar las
//   listas por REST y devuelve su nuevo `ultimo_id`; desde ahí se reanuda.
// - El aviso `#conexion` dice siempre la verdad: «En línea» o, bien visible,
//   «Sin conexión». Una pantalla sin conexión nunca parece una cocina tranquila.

const ESPERA_INICIAL = 300;
const ESPERA_MAXIMA = 10000;
const LATIDO = 5000;
const SILENCIO_MAXIMO = 12000;
const IDS_RECORDADOS = 5000;

function urlSocket() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}

const dos = (n) => String(n).padStart(2, "0");
const horaAhora = (d = new Date()) => `${dos(d.getHours())}:${dos(d.getMinutes())}:${dos(d.getSeconds())}`;

export function conectar({
  ultimoId = 0,
  alEvento = () => {},
  alPresencia = () => {},
  alEstado = () => {},
  alHola = () => {},
  recargar = null,
  usuarioId = null,
  aviso = document.getElementById("conexion"),
} = {}) {
  let base = Number(ultimoId) || 0; // lo que las listas ya reflejan
  let maximoVisto = base;
  const vistos = new Set();
  let ws = null;
  let estado = null;
  let intentos = 0;
  let fallosSinHola = 0;
  let temporizador = null;
  let cuentaAtras = null;
  let latido = null;
  let ultimaTrama = 0;
  let recargando = false;
  let cerrado = false;
  let ultimaConexion = null;
  let horaHola = 0; // cuándo saludó el socket actual
  let rechazo = null; // por qué el servidor no admitió el último socket

  function pintar(nuevo, texto) {
    if (aviso) {
      aviso.dataset.estado = nuevo;
      aviso.textContent = texto;
    }
    document.body.classList.toggle("desconectado", nuevo === "sin-conexion");
    if (nuevo !== estado) {
      estado = nuevo;
      try {
        alEstado(nuevo);
      } catch (e) {
        console.error(e);
      }
    }
  }

  function textoSinConexion(segundos) {
    const cuando = ultimaConexion ? ` Última conexión: ${ultimaConexion}.` : "";
    const reintento =
      segundos > 0 ? `Reintentando en ${segundos} s…` : "Reintentando ahora…";
    const porque = rechazo ? ` ${rechazo}` : "";
    return `⚠ Sin conexión con comanda — lo que ves puede estar desactualizado.${porque} ${reintento}${cuando}`;
  }

  function abrir() {
    if (cerrado) return;
    clearTimeout(temporizador);
    clearInterval(cuentaAtras);
    temporizador = null;
    let socket;
    try {
      socket = new WebSocket(urlSocket());
    } catch (e) {
      console.error(e);
      perdido(socket, null);
      return;
    }
    ws = socket;
    let saludado = false;
    horaHola = 0;
    ultimaTrama = Date.now();
    if (estado !== "sin-conexion") pintar("conectando", "Conectando con comanda…");

    socket.addEventListener("message", (m) => {
      if (socket !== ws) return;
      ultimaTrama = Date.now();
      let trama;
      try {
        trama = JSON.parse(m.data);
      } catch {
        return;
      }
      switch (trama.type) {
        case "hola":
          // Otra pestaña entró con otra cuenta (la cookie es compartida):
          // esta página ya no es de quien la abrió.
          if (usuarioId !== null && trama.usuario && trama.usuario.id !== usuarioId) {
            cerrado = true;
            socket.close(1000, "otra cuenta");
            location.reload();
            return;
          }
          saludado = true;
          horaHola = Date.now();
          fallosSinHola = 0;
          rechazo = null;
          enviar({ type: "reanudar", ultimo_id: Math.max(base, maximoVisto) });
          ultimaConexion = null;
          pintar("en-linea", "● En línea");
          try {
            alHola(trama);
          } catch (e) {
            console.error(e);
          }
          break;
        case "evento":
          recibirEvento(trama);
          break;
        case "presencia":
          try {
            alPresencia(trama);
          } catch (e) {
            console.error(e);
          }
          break;
        case "reinicio":
          reiniciar(socket);
          break;
        case "error":
          console.warn("comanda:", trama.codigo, trama.mensaje);
          break;
        default:
          break; // pong, publicado
      }
    });

    socket.addEventListener("close", (c) => {
      if (socket !== ws) return;
      if (c.code === 4001 || c.code === 4003) {
        cerrado = true;
        pintar("sin-conexion", "Sesión terminada: vuelve a entrar…");
        location.assign("/");
        return;
      }
      if (c.code === 4029) {
        rechazo = "Esta cuenta ya tiene abiertas todas las pantallas que se permiten: cierra alguna que no uses.";
        intentos = Math.max(intentos, Math.ceil(Math.log2(ESPERA_MAXIMA / ESPERA_INICIAL)));
        perdido(socket, c.code);
        return;
      }
      if (!saludado) fallosSinHola++;
      perdido(socket, c.code);
    });
  }

  function recibirEvento(evento) {
    if (recargando) return; // se repetirá al reanudar después de recargar
    const id = Number(evento.id);
    if (!Number.isFinite(id) || id <= base || vistos.has(id)) return;
    vistos.add(id);
    if (vistos.size > IDS_RECORDADOS) {
      // El Set recuerda el orden de entrada: se olvidan los más antiguos.
      const primero = vistos.values().next().value;
      vistos.delete(primero);
      base = Math.max(base, Math.min(primero, maximoVisto));
    }
    if (id > maximoVisto) maximoVisto = id;
    try {
      alEvento(evento);
    } catch (e) {
      console.error("al aplicar el evento", id, e);
    }
  }

  async function reiniciar(socket) {
    if (!recargar) {
      location.reload();
      return;
    }
    recargando = true;
    console.info("comanda: demasiado atrás (reinicio): se recargan las listas");
    pintar("en-linea", "● En línea — poniéndose al día…");
    try {
      const n = Number(await recargar()) || 0;
      base = n;
      maximoVisto = n;
      vistos.clear();
      recargando = false;
      if (socket === ws && socket.readyState === WebSocket.OPEN) {
        enviar({ type: "reanudar", ultimo_id: n });
        pintar("en-linea", "● En línea");
      }
    } catch (e) {
      console.error("no se pudieron recargar las listas", e);
      recargando = false;
      // Se reintenta todo: al reconectar, otro `reanudar` (u otro `reinicio`).
      forzarReconexion();
    }
  }

  function perdido(socket, codigo) {
    if (cerrado) return;
    if (socket && socket === ws) ws = null;
    if (estado === "en-linea") ultimaConexion = horaAhora();
    // Una conexión que duró vuelve a empezar rápido; una que cae en cuanto
    // abre (servidor con problemas) sigue alargando la espera.
    if (horaHola && Date.now() - horaHola > 10000) intentos = 0;
    horaHola = 0;
    const techo = Math.min(ESPERA_MAXIMA, ESPERA_INICIAL * 2 ** intentos);
    const espera = Math.round(techo / 2 + Math.random() * (techo / 2)); // azar: no todos a la vez
    intentos++;
    // Una sesión vencida cuyo socket no llega a abrir: /api/me lo confirma y lleva al inicio.
    if (fallosSinHola >= 3 && navigator.onLine && fallosSinHola % 3 === 0) {
      fetch("/api/me", { credentials: "same-origin" })
        .then((r) => {
          if (r.status === 401) location.assign("/");
        })
        .catch(() => {});
    }
    const limite = Date.now() + espera;
    const actualizar = () => pintar("sin-conexion", textoSinConexion(Math.ceil((limite - Date.now()) / 1000)));
    actualizar();
    clearInterval(cuentaAtras);
    cuentaAtras = setInterval(actualizar, 1000);
    clearTimeout(temporizador);
    temporizador = setTimeout(abrir, espera);
    if (codigo !== null && codigo !== undefined) {
      console.info(`comanda: socket cerrado (${codigo}); reintento en ${espera} ms`);
    }
  }

  /** Descarta el socket actual (p. ej. red muerta) y reintenta. */
  function forzarReconexion() {
    const viejo = ws;
    ws = null;
    if (viejo) {
      try {
        viejo.close(4000, "sin latido");
      } catch {
        // ya cerrado
      }
    }
    perdido(null, null);
  }

  function enviar(objeto) {
    if (ws && ws.readyState === WebSocket.OPEN) {
      ws.send(JSON.stringify(objeto));
      return true;
    }
    return false;
  }

  latido = setInterval(() => {
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - ultimaTrama > SILENCIO_MAXIMO) {
      console.warn("comanda: el servidor no responde; reconectando");
      forzarReconexion();
      return;
    }
    enviar({ type: "ping" });
  }, LATIDO);

  window.addEventListener("offline", () => {
    if (ws) forzarReconexion();
  });
  window.addEventListener("online", () => {
    if (!ws && !cerrado) {
      intentos = 0;
      abrir();
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && !ws && !cerrado) abrir();
  });

  abrir();

  return {
    enviar,
    get estado() {
      return estado;
    },
    get ultimoId() {
      return Math.max(base, maximoVisto);
    },
    cerrar() {
      cerrado = true;
      clearInterval(latido);
      clearTimeout(temporizador);
      clearInterval(cuentaAtras);
      if (ws) ws.close(1000, "adiós");
      ws = null;
    },
  };
}

/**
 * Carga las listas de la página por REST, reintentando (con el aviso
 * «Sin conexión» a la vista) hasta que el servidor responda. Devuelve lo que
 * devuelva `cargar` (el `ultimo_id` desde el que reanudar).
 */
export async function cargarConReintentos(cargar, aviso = document.getElementById("conexion")) {
  for (let intento = 0; ; intento++) {
    try {
      return await cargar();
    } catch (e) {
      if (e && e.estado === 401) throw e; // api.js ya lleva al inicio
      const techo = Math.min(ESPERA_MAXIMA, 1000 * 2 ** intento);
      const espera = Math.round(techo / 2 + Math.random() * (techo / 2));
      console.warn("no se pudieron cargar los datos:", e);
      if (aviso) {
        aviso.dataset.estado = "sin-conexion";
        aviso.textContent = `⚠ Sin conexión con comanda — no se pudieron cargar los datos (${
          e && e.message ? e.message : "error"
        }). Reintentando en ${Math.ceil(espera / 1000)} s…`;
      }
      document.body.classList.add("desconectado");
      await new Promise((listo) => setTimeout(listo, espera));
    }
  }
}
